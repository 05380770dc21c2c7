"""Offline checks of the GitHub workflows in .github/workflows/.

- actionlint: types, expressions, inputs of reusable calls and the permissions a called workflow's
  jobs need (GitHub refuses a run whose caller grants less), with the shellcheck and pyflakes
  integrations off (their presence would vary by machine);
- schema: check-jsonschema with its vendored GitHub workflow schema;
- security: zizmor --offline, no finding at its default severity;
- actions: every action pinned by full commit SHA, with its version in a comment;
- hardening: top-level permissions, and timeout-minutes on every job that runs steps;
- reusable calls: ``with:`` and ``secrets:`` of local reusable workflows name declared inputs, and
  every required input is given;
- tasks: every ``invoke`` command in a ``run:`` script parses against the real task tree, with
  Invoke's own parser (a renamed task or flag is caught here, not in CI).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from invoke.collection import Collection
from invoke.exceptions import ParseError
from invoke.parser import Parser
from invoke.parser.context import ParserContext
from invoke.program import Program

from rootfs_ci.errors import ConfigError

WORKFLOWS = Path(".github") / "workflows"
SCHEMA = "vendor.github-workflows"
USES = re.compile(r"^\s*(?:-\s*)?uses:\s*(?P<ref>[^\s#]+)\s*(?:#\s*(?P<comment>.*))?$")
PINNED = re.compile(r"^[^@\s]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^v\d+(?:\.\d+){0,2}\b")
SHELL_OPERATORS = frozenset({";", "&&", "||", "|", "&", "(", ")", "!"})
LINT_TOOLS_HINT = "install the lint tools: pip install 'rootfs-ci[lint]'"


@dataclass(frozen=True)
class Problem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def workflow_files(project_dir: Path) -> list[Path]:
    directory = project_dir / WORKFLOWS
    files = sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")])
    if not files:
        raise ConfigError(f"no workflow files in {directory}")
    return files


def load_workflow(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not readable YAML ({exc}); fix the file") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a workflow must be a mapping")
    return data


def triggers(workflow: Mapping[Any, Any]) -> dict[str, Any]:
    """The ``on:`` mapping (YAML 1.1 reads the bare key ``on`` as True)."""
    value = workflow.get("on", workflow.get(True))
    if isinstance(value, str):
        return {value: None}
    if isinstance(value, list):
        return dict.fromkeys(value)
    return dict(value) if isinstance(value, dict) else {}


@dataclass(frozen=True)
class RunStep:
    where: str
    script: str


def run_steps(path: Path, workflow: Mapping[Any, Any]) -> Iterator[RunStep]:
    for job_id, job in (workflow.get("jobs") or {}).items():
        for index, step in enumerate((job or {}).get("steps") or []):
            if isinstance(step, dict) and isinstance(step.get("run"), str):
                label = step.get("name") or step.get("id") or f"step {index + 1}"
                yield RunStep(f"{path.name}: jobs.{job_id}: {label}", step["run"])


def shell_commands(script: str) -> Iterator[list[str]]:
    """Simple commands of a shell script, as words (quotes removed, $VARIABLES left as written)."""
    joined = re.sub(r"\\\n", " ", script)
    for line in joined.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        try:
            words = list(lexer)
        except ValueError as exc:
            raise ConfigError(f"cannot split shell line {line.strip()!r}: {exc}") from None
        command: list[str] = []
        for word in [*words, ";"]:
            if word in SHELL_OPERATORS:
                if command:
                    yield command
                command = []
            else:
                command.append(word)


def invoke_commands(script: str) -> Iterator[list[str]]:
    """The arguments of every ``invoke`` command (also behind sudo, env or python -m) in a script."""
    for words in shell_commands(script):
        for position, word in enumerate(words):
            if Path(word).name == "invoke":
                yield words[position + 1 :]
                break


def task_parser(collection: Collection) -> Parser:
    """Invoke's own parser for ``invoke ARGS`` against ``collection``: core flags, then tasks and their flags."""
    return Parser(initial=ParserContext(args=Program().core_args()), contexts=collection.to_contexts())


def check_invoke(argv: list[str], parser: Parser) -> str | None:
    """Why ``invoke ARGV`` would not run, or None."""
    shown = shlex.join(["invoke", *argv])
    try:
        result = parser.parse_argv(argv)
    except ParseError as exc:
        return f"{shown}: {exc}"
    if len(result) < 2:
        return f"{shown}: names no task"
    return None


def check_tasks(files: list[Path], collection: Collection) -> list[Problem]:
    parser = task_parser(collection)
    problems = []
    for path in files:
        for step in run_steps(path, load_workflow(path)):
            for argv in invoke_commands(step.script):
                if (problem := check_invoke(argv, parser)) is not None:
                    problems.append(Problem(step.where, problem))
    return problems


def check_pins(files: list[Path]) -> list[Problem]:
    """Remote actions and workflows pinned by full commit SHA, with a '# vX.Y.Z' comment."""
    problems = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            match = USES.match(line)
            if match is None or match["ref"].startswith(("./", "docker://")):
                continue
            where = f"{path.name}:{number}"
            if not PINNED.match(match["ref"]):
                problems.append(Problem(where, f"{match['ref']} is not pinned by a full 40-hex commit SHA"))
            elif not VERSION_COMMENT.match((match["comment"] or "").strip()):
                problems.append(Problem(where, f"{match['ref']} needs its version in a comment, e.g. '# v4.2.2'"))
    return problems


def check_reusable_calls(files: list[Path], project_dir: Path) -> list[Problem]:
    """Calls of local reusable workflows pass only declared inputs and secrets, and every required input."""
    problems = []
    for path in files:
        for job_id, job in (load_workflow(path).get("jobs") or {}).items():
            uses = (job or {}).get("uses")
            if not isinstance(uses, str) or not uses.startswith("./"):
                continue
            where = f"{path.name}: jobs.{job_id}"
            called = project_dir / uses
            if not called.is_file():
                problems.append(Problem(where, f"{uses} does not exist"))
                continue
            declared = triggers(load_workflow(called)).get("workflow_call") or {}
            inputs: dict[str, Any] = declared.get("inputs") or {}
            secrets: dict[str, Any] = declared.get("secrets") or {}
            given: dict[str, Any] = job.get("with") or {}
            for name in given:
                if name not in inputs:
                    problems.append(Problem(where, f"{uses} has no input {name!r} (it has: {', '.join(inputs)})"))
            for name, spec in inputs.items():
                if (spec or {}).get("required") and name not in given:
                    problems.append(Problem(where, f"required input {name!r} of {uses} is not given"))
            passed = job.get("secrets") or {}
            if passed == "inherit":
                problems.append(Problem(where, "secrets: inherit passes every secret; pass the ones it needs"))
            elif isinstance(passed, dict):
                for name in passed:
                    if name not in secrets:
                        problems.append(Problem(where, f"{uses} has no secret {name!r}"))
    return problems


def check_hardening(files: list[Path]) -> list[Problem]:
    """Least privilege by default and a time limit on every job that runs steps."""
    problems = []
    for path in files:
        workflow = load_workflow(path)
        if "permissions" not in workflow:
            problems.append(Problem(path.name, "no top-level permissions; add 'permissions: contents: read'"))
        for job_id, job in (workflow.get("jobs") or {}).items():
            if isinstance(job, dict) and "steps" in job and "timeout-minutes" not in job:
                problems.append(Problem(f"{path.name}: jobs.{job_id}", "no timeout-minutes"))
    return problems


def _tool(name: str) -> str:
    """A lint tool from this interpreter's environment (the venv need not be activated), else PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise ConfigError(f"{name} not found; {LINT_TOOLS_HINT}")
    return found


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


def check_actionlint(files: list[Path], project_dir: Path) -> list[Problem]:
    if not (project_dir / ".git").exists():
        # without it actionlint silently skips what ./.github/workflows/ calls need (inputs, permissions)
        raise ConfigError(f"{project_dir} is not the root of a git repository, which actionlint needs; run git init")
    command = [_tool("actionlint"), "-no-color", "-oneline", "-shellcheck=", "-pyflakes="]
    result = _run([*command, *(str(path.relative_to(project_dir)) for path in files)], project_dir)
    if result.returncode == 0:
        return []
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    return [Problem("actionlint", line) for line in lines] or [Problem("actionlint", result.stderr.strip()[:500])]


def check_schema(files: list[Path], project_dir: Path) -> list[Problem]:
    result = _run([_tool("check-jsonschema"), "--builtin-schema", SCHEMA, *map(str, files)], project_dir)
    if result.returncode == 0:
        return []
    lines = [line.strip() for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    return [Problem("check-jsonschema", line) for line in lines if not line.startswith("Schema validation errors")]


def check_zizmor(project_dir: Path) -> list[Problem]:
    command = [_tool("zizmor"), "--offline", "--no-progress", "--color", "never", "--format", "plain"]
    result = _run([*command, str(WORKFLOWS)], project_dir)
    if result.returncode == 0:
        return []
    lines = [line.rstrip() for line in result.stdout.splitlines() if line.strip()]
    return [Problem("zizmor", line) for line in lines] or [Problem("zizmor", result.stderr.strip()[:500])]


def lint(project_dir: Path, collection: Collection) -> list[Problem]:
    """Every problem the offline checks find in the project's workflows (empty: all good)."""
    files = workflow_files(project_dir)
    return [
        *check_actionlint(files, project_dir),
        *check_schema(files, project_dir),
        *check_zizmor(project_dir),
        *check_pins(files),
        *check_hardening(files),
        *check_reusable_calls(files, project_dir),
        *check_tasks(files, collection),
    ]
