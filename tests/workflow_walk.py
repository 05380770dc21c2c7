"""Walk jobs of our GitHub workflows on this machine, as a runner would, to test the release flow.

Not a GitHub Actions emulator: enough of one to run OUR workflow files as written. Each job gets a
fresh copy of the project (the checkout) and its own $GITHUB_OUTPUT; ``run:`` steps run with
``bash -eo pipefail`` (GitHub's default shell) and the step's evaluated ``env:``; ``if:`` and
``${{ }}`` expressions are evaluated (the subset our workflows use; anything else is an error);
upload-artifact and download-artifact copy files through a local store with the actions' path
rules (least common ancestor, hierarchy kept after the first wildcard, merge-multiple). Steps
named 'Install ...' (apt-get, pip) are skipped: this machine has the tools and the venv. checkout,
setup-python and cache are skipped: the fresh copy is the checkout.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

from ci.lint import invoke_commands, load_workflow, triggers

EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>\d+)|(?P<op>==|!=|&&|\|\||[!(),])|(?P<name>[A-Za-z_][\w.-]*))"
)
SKIPPED_ACTIONS = ("actions/checkout@", "actions/setup-python@", "actions/cache@")


class WalkError(AssertionError):
    pass


def read_github_output(path: Path) -> dict[str, str]:
    """$GITHUB_OUTPUT's ``key=value`` and ``key<<DELIMITER`` blocks."""
    values: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    index = 0
    while index < len(lines):
        line = lines[index]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, index + 1)
            values[key] = "\n".join(lines[index + 1 : end])
            index = end + 1
        else:
            key, _, value = line.partition("=")
            values[key] = value
            index += 1
    return values


class Expression:
    """GitHub's expression language, the subset our workflows use: lookups, literals, ! == != && ||,
    startsWith(), always(), success(), failure()."""

    def __init__(self, text: str, context: Mapping[str, Any], failed: bool) -> None:
        self.tokens: list[re.Match[str]] = []
        position = 0
        while text[position:].strip():
            match = TOKEN.match(text, position)
            if match is None:
                raise WalkError(f"cannot read expression {text!r} at {text[position:]!r}")
            self.tokens.append(match)
            position = match.end()
        self.position, self.context, self.failed, self.text = 0, context, failed, text

    def value(self) -> Any:
        result = self._or()
        if self.position != len(self.tokens):
            raise WalkError(f"unexpected {self.tokens[self.position].group().strip()!r} in {self.text!r}")
        return result

    def _peek(self) -> str:
        return self.tokens[self.position].group().strip() if self.position < len(self.tokens) else ""

    def _take(self) -> re.Match[str]:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def _or(self) -> Any:
        left = self._and()
        while self._peek() == "||":
            self._take()
            right = self._and()
            left = left or right
        return left

    def _and(self) -> Any:
        left = self._compare()
        while self._peek() == "&&":
            self._take()
            right = self._compare()
            left = left and right
        return left

    def _compare(self) -> Any:
        left = self._unary()
        if self._peek() in ("==", "!="):
            operator = self._take().group().strip()
            right = self._unary()
            return (left == right) if operator == "==" else (left != right)
        return left

    def _unary(self) -> Any:
        if self._peek() == "!":
            self._take()
            return not self._unary()
        if self._peek() == "(":
            self._take()
            inner = self._or()
            self._take()
            return inner
        return self._operand(self._take())

    def _operand(self, token: re.Match[str]) -> Any:
        if token["str"] is not None:
            return token["str"][1:-1].replace("''", "'")
        if token["num"] is not None:
            return int(token["num"])
        name = token["name"]
        if name in ("true", "false"):
            return name == "true"
        return self._call(name) if self._peek() == "(" else self._lookup(name)

    def _call(self, name: str) -> Any:
        self._take()
        args = []
        while self._peek() != ")":
            args.append(self._or())
            if self._peek() == ",":
                self._take()
        self._take()
        functions: dict[str, Callable[..., Any]] = {
            "startsWith": lambda text, prefix: str(text).lower().startswith(str(prefix).lower()),
            "always": lambda: True,
            "success": lambda: not self.failed,
            "failure": lambda: self.failed,
        }
        if name not in functions:
            raise WalkError(f"function {name}() is not supported by the walk ({self.text!r})")
        return functions[name](*args)

    def _lookup(self, dotted: str) -> Any:
        value: Any = self.context
        parts = dotted.split(".")
        if parts[0] in ("secrets", "vars") and len(parts) == 2 and parts[1] not in self.context[parts[0]]:
            return ""  # an unset secret or variable is empty; anything else unknown is a mistake
        for part in parts:
            if not isinstance(value, Mapping) or part not in value:
                raise WalkError(f"{dotted} is not known to the walk ({self.text!r})")
            value = value[part]
        return value


def evaluate(text: str, context: Mapping[str, Any], failed: bool = False) -> Any:
    return Expression(text, context, failed).value()


def interpolate(value: Any, context: Mapping[str, Any]) -> Any:
    """``${{ expr }}`` in a string; a string that is exactly one expression keeps the value's type."""
    if not isinstance(value, str):
        return value
    whole = EXPRESSION.fullmatch(value.strip())
    if whole:
        return evaluate(whole[1], context)

    def one(match: re.Match[str]) -> str:
        result = evaluate(match[1], context)
        return str(result).lower() if isinstance(result, bool) else ("" if result is None else str(result))

    return EXPRESSION.sub(one, value)


def condition(value: Any, context: Mapping[str, Any], failed: bool) -> bool:
    if value is None:
        return not failed
    text = str(value).strip()
    whole = EXPRESSION.fullmatch(text)
    result = evaluate(whole[1] if whole else text, context, failed)
    # Without a status function, GitHub adds success().
    if not re.search(r"\b(always|failure|success|cancelled)\(", text):
        result = result and not failed
    return bool(result)


@dataclass
class ArtifactStore:
    root: Path

    def upload(self, name: str, paths: list[str], job_dir: Path, if_missing: str) -> list[str]:
        """upload-artifact: files keep their path below the least common ancestor of the search paths
        (for a wildcard path: the directory before its first wildcard)."""
        destination = self.root / name
        if destination.exists():
            raise WalkError(f"artifact {name} uploaded twice (names must be unique in a run)")
        found: list[Path] = []
        roots: list[Path] = []
        for pattern in paths:
            parts = Path(pattern).parts
            wildcard = next((i for i, part in enumerate(parts) if any(c in part for c in "*?[")), None)
            if wildcard is None:
                path = job_dir / pattern
                if path.is_dir():
                    roots.append(path)
                    found += [p for p in path.rglob("*") if p.is_file()]
                elif path.is_file():
                    roots.append(path.parent)
                    found.append(path)
            else:
                roots.append(job_dir.joinpath(*parts[:wildcard]))
                found += [Path(p) for p in glob.glob(str(job_dir / pattern), recursive=True) if Path(p).is_file()]
        if not found:
            if if_missing == "error":
                raise WalkError(f"upload-artifact {name}: no files found for {paths}")
            return []
        base = Path(os.path.commonpath([str(r) for r in roots]))
        stored = []
        for path in sorted(set(found)):
            relative = path.relative_to(base)
            (destination / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination / relative)
            stored.append(relative.as_posix())
        return stored

    def download(self, name: str | None, pattern: str | None, merge: bool, target: Path) -> list[str]:
        if name is not None:
            names = [name]
            if not (self.root / name).is_dir():
                raise WalkError(f"download-artifact: no artifact {name}")
        else:
            names = sorted(p.name for p in self.root.iterdir() if fnmatchcase(p.name, pattern or "*"))
        for artifact in names:
            into = target if (name is not None or merge or len(names) == 1) else target / artifact
            shutil.copytree(self.root / artifact, into, dirs_exist_ok=True)
        return names


@dataclass
class StepLog:
    job: str
    name: str
    kind: str
    invoke: list[list[str]] = field(default_factory=list)
    stdout: str = ""


@dataclass
class Walk:
    """Runs jobs of the workflow files in ``workflows`` against copies made by ``checkout``."""

    workflows: Path
    checkout: Callable[[Path], None]
    scratch: Path
    github: dict[str, Any]
    vars: dict[str, str] = field(default_factory=dict)
    # Called before each job, e.g. to give it a fresh engine as a new runner would have.
    before_job: Callable[[str], None] = lambda job: None
    log: list[StepLog] = field(default_factory=list)
    job_dirs: dict[str, list[Path]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.store = ArtifactStore(self.scratch / "artifacts")
        self.store.root.mkdir(parents=True)

    def workflow(self, file_name: str) -> dict[str, Any]:
        return load_workflow(self.workflows / file_name)

    def call(self, caller: str, job_id: str, matrix: Mapping[str, Any]) -> dict[str, Any]:
        """Run a job of ``caller`` that calls a reusable workflow: its jobs in ``needs`` order; its outputs."""
        job = self.workflow(caller)["jobs"][job_id]
        context = {"matrix": dict(matrix), "github": self.github, "vars": self.vars, "secrets": {}, "inputs": {}}
        if not condition(job.get("if"), context, failed=False):
            raise WalkError(f"{caller}: jobs.{job_id} would not run for {self.github['ref']}")
        called_name = Path(job["uses"]).name
        called = self.workflow(called_name)
        declared = triggers(called)["workflow_call"]
        inputs = {name: spec.get("default") for name, spec in (declared.get("inputs") or {}).items()}
        inputs.update({key: interpolate(value, context) for key, value in (job.get("with") or {}).items()})
        secrets = {key: interpolate(value, context) or "" for key, value in (job.get("secrets") or {}).items()}
        jobs_outputs: dict[str, Any] = {}
        for called_job in _ordered(called["jobs"]):
            outputs = self.run_job(called_name, called_job, inputs=inputs, secrets=secrets, needs=jobs_outputs)
            jobs_outputs[called_job] = {"outputs": outputs}
        out_context = {"jobs": jobs_outputs}
        return {name: interpolate(spec["value"], out_context) for name, spec in (declared.get("outputs") or {}).items()}

    def run_job(
        self,
        file_name: str,
        job_id: str,
        *,
        inputs: Mapping[str, Any] | None = None,
        secrets: Mapping[str, str] | None = None,
        matrix: Mapping[str, Any] | None = None,
        needs: Mapping[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Run one job with steps; None when its ``if:`` says it does not run."""
        workflow = self.workflow(file_name)
        job = workflow["jobs"][job_id]
        context: dict[str, Any] = {
            "inputs": dict(inputs or {}),
            "secrets": dict(secrets or {}),
            "matrix": dict(matrix or {}),
            "github": self.github,
            "vars": self.vars,
            "needs": dict(needs or {}),
            "steps": {},
            "runner": {"os": "Linux", "arch": "X64"},
        }
        if not condition(job.get("if"), context, failed=False):
            return None
        self.before_job(job_id)
        job_dir = self.scratch / f"{job_id}-{uuid.uuid4().hex[:8]}"
        self.checkout(job_dir)
        self.job_dirs.setdefault(job_id, []).append(job_dir)
        base_env = {**_env(workflow.get("env"), context), **_env(job.get("env"), context)}
        label = f"{file_name}:{job_id}" + (f" {dict(matrix)}" if matrix else "")
        for step in job["steps"]:
            name = str(step.get("name") or step.get("uses") or step.get("run", "")).split("\n")[0]
            # A failing step raises: the walk stops there, so every step runs with no failure before it.
            if not condition(step.get("if"), context, failed=False):
                continue
            outputs = self._step(label, name, step, job_dir, {**base_env, **_env(step.get("env"), context)}, context)
            if "id" in step:
                context["steps"][step["id"]] = {"outputs": outputs, "outcome": "success"}
        return {key: interpolate(value, context) for key, value in (job.get("outputs") or {}).items()}

    def _step(
        self, label: str, name: str, step: dict[str, Any], job_dir: Path, env: dict[str, str], context: dict[str, Any]
    ) -> dict[str, str]:
        uses = step.get("uses")
        if uses:
            with_ = {key: interpolate(value, context) for key, value in (step.get("with") or {}).items()}
            if uses.startswith(SKIPPED_ACTIONS):
                self.log.append(StepLog(label, name, "skipped action"))
            elif uses.startswith("actions/upload-artifact@"):
                paths = [line.strip() for line in str(with_["path"]).splitlines() if line.strip()]
                stored = self.store.upload(with_["name"], paths, job_dir, with_.get("if-no-files-found", "warn"))
                self.log.append(StepLog(label, name, f"upload {with_['name']}: {', '.join(stored)}"))
            elif uses.startswith("actions/download-artifact@"):
                target = job_dir / str(with_.get("path") or ".")
                merge = str(with_.get("merge-multiple", "false")).lower() == "true"
                names = self.store.download(with_.get("name"), with_.get("pattern"), merge, target)
                self.log.append(StepLog(label, name, f"download {', '.join(names)}"))
            else:
                raise WalkError(f"{label}: the walk does not know {uses}")
            return {}
        script = str(step["run"])
        commands = list(invoke_commands(script))
        if name.startswith("Install"):
            if commands:
                raise WalkError(f"{label}: install step {name!r} runs invoke; the walk would skip it")
            self.log.append(StepLog(label, name, "skipped install"))
            return {}
        output_file = job_dir.parent / f".output-{uuid.uuid4().hex[:8]}"
        summary = job_dir.parent / f".summary-{uuid.uuid4().hex[:8]}"
        run_env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "GITHUB_ACTIONS": "true",
            "GITHUB_OUTPUT": str(output_file),
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_REF": self.github["ref"],
            "GITHUB_SHA": self.github["sha"],
            "GITHUB_REPOSITORY_OWNER": self.github["repository_owner"],
            "GITHUB_WORKSPACE": str(job_dir),
            **env,
        }
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=job_dir,
            env=run_env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        self.log.append(StepLog(label, name, "run", commands, result.stdout))
        if result.returncode != 0:
            raise WalkError(
                f"{label}: step {name!r} failed ({result.returncode}):\n{script}\n{result.stdout}\n{result.stderr}"
            )
        return read_github_output(output_file)


def _env(values: Mapping[str, Any] | None, context: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for key, value in (values or {}).items():
        result = interpolate(value, context)
        out[key] = str(result).lower() if isinstance(result, bool) else ("" if result is None else str(result))
    return out


def _ordered(jobs: Mapping[str, Any]) -> list[str]:
    """Job ids so that each comes after its ``needs``."""
    done: list[str] = []
    while len(done) < len(jobs):
        ready = [
            job_id for job_id, job in jobs.items() if job_id not in done and all(need in done for need in _needs(job))
        ]
        if not ready:
            raise WalkError("jobs have a needs cycle")
        done += ready
    return done


def _needs(job: Mapping[str, Any]) -> list[str]:
    needs = job.get("needs") or []
    return [needs] if isinstance(needs, str) else list(needs)


def dump(log: list[StepLog]) -> str:
    return yaml.safe_dump([{"job": s.job, "step": s.name, "kind": s.kind, "invoke": s.invoke} for s in log])
