"""The GitHub workflows: `invoke lint` (actionlint, schema, zizmor, pins, calls, tasks); test_act.py runs them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rootfs_ci.errors import ConfigError
from rootfs_ci.lint import (
    check_actionlint,
    check_hardening,
    check_pins,
    check_reusable_calls,
    check_tasks,
    invoke_commands,
    lint,
    load_workflow,
    run_steps,
    workflow_files,
)
from rootfs_ci.tasks import namespace
from tests.helpers import REPO, make_project

WORKFLOWS = REPO / ".github" / "workflows"
REF = "refs/tags/v1.2.3"
SHA = "89abcdef0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def tasks() -> object:
    return namespace(REPO)


def copy_with_workflows(tmp_path: Path, shared_cache: Path) -> Path:
    """A copy of the project with this repository's workflows, at the root of its own git repository."""
    project = make_project(tmp_path / "project", shared_cache).path
    shutil.copytree(WORKFLOWS, project / ".github" / "workflows")
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    return project


def invoke_lint(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "invoke", "lint"], cwd=project, capture_output=True, text=True, timeout=300, check=False
    )


# -- lint -------------------------------------------------------------------------------------


def test_invoke_lint_passes_on_this_repository() -> None:
    """`invoke lint` is part of the suite: actionlint, check-jsonschema, zizmor and our checks find nothing."""
    result = invoke_lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == (
        "workflows: actionlint, schema, zizmor, pins, reusable calls and invoke commands are all fine"
    )


def test_actionlint_catches_nested_permissions_unknown_inputs_and_bad_expressions(
    tmp_path: Path, shared_cache: Path
) -> None:
    project = copy_with_workflows(tmp_path, shared_cache)
    ci = project / ".github" / "workflows" / "ci.yml"
    build_image = project / ".github" / "workflows" / "build-image.yml"
    text = ci.read_text()
    # the release call grants less than publish-image.yml's job asks for: GitHub refuses the whole run
    text = text.replace("      packages: write # pushes the smoke-tested digest, no tags\n", "", 1)
    # an input build-image.yml does not declare (only our own reusable-call check would also see this)
    text = text.replace(
        "      cache: ${{ !startsWith(", "      cache-everything: true\n      cache: ${{ !startsWith(", 1
    )
    ci.write_text(text)
    text = build_image.read_text()
    build_image.write_text(
        text.replace("&& inputs.cache\n", "&& inputs.cache)\n", 1).replace(
            "inputs.arch }}-smoke", "inputs.archh }}-smoke", 1
        )
    )
    result = invoke_lint(project)
    assert result.returncode == 2, result.stdout + result.stderr
    found = [line for line in result.stdout.splitlines() if line.startswith("actionlint: ")]
    assert any(
        "ci.yml:" in line
        and 'nested job "publish" of "./.github/workflows/publish-image.yml" requires "packages: write" '
        'but the calling job grants "packages: none" [workflow-call]'
        in line
        for line in found
    ), found
    assert any('input "cache-everything" is not defined' in line and "[workflow-call]" in line for line in found), found
    assert any(
        "build-image.yml:" in line and "[expression]" in line and 'remaining token(s) in the input: ")"' in line
        for line in found
    ), found
    assert any('property "archh" is not defined' in line and "[expression]" in line for line in found), found
    assert result.stderr.strip().splitlines()[-1].startswith("rootfs-ci: error: ")


def test_lint_outside_a_git_repository_is_one_clear_line(tmp_path: Path, shared_cache: Path) -> None:
    project = copy_with_workflows(tmp_path, shared_cache)
    shutil.rmtree(project / ".git")
    result = invoke_lint(project)
    assert (result.returncode, result.stdout, result.stderr.strip()) == (
        2,
        "",
        f"rootfs-ci: error: {project} is not the root of a git repository, which actionlint needs; run git init",
    )


def test_every_invoke_command_in_the_workflows_is_seen_and_valid(tasks: object) -> None:
    files = workflow_files(REPO)
    seen = [
        argv for path in files for step in run_steps(path, load_workflow(path)) for argv in invoke_commands(step.script)
    ]
    assert {argv[0] for argv in seen} == {
        "matrix",
        "ci-info",
        "build",
        "image",
        "qemu.setup",
        "smoke",
        "diff",
        "publish",
        "publish-index",
        "lock",
    }
    assert [argv for argv in seen if argv[0] in ("build", "lock")] == [
        ["build", "--locked", "--image", "$IMAGE", "--arch", "$ARCH", "--backend", "$BACKEND"],
        ["lock", "--update"],
    ]
    publish = next(argv for argv in seen if argv[0] == "publish")
    assert publish[:5] == ["publish", "--image", "$IMAGE", "--arch", "$ARCH"]
    assert publish[-1] == "--by-digest"
    assert check_tasks(files, tasks) == []  # type: ignore[arg-type]


def test_a_renamed_flag_or_task_fails_the_check(tmp_path: Path, shared_cache: Path, tasks: object) -> None:
    project = copy_with_workflows(tmp_path, shared_cache)
    build_image = project / ".github" / "workflows" / "build-image.yml"
    ci = project / ".github" / "workflows" / "ci.yml"
    build_image.write_text(
        build_image.read_text().replace('invoke smoke --image "$IMAGE"', 'invoke smoke --imag "$IMAGE"')
    )
    ci.write_text(ci.read_text().replace("invoke publish-index", "invoke publish-idx"))
    problems = [str(p) for p in check_tasks(workflow_files(project), tasks)]  # type: ignore[arg-type]
    assert problems == [
        "build-image.yml: jobs.smoke: Smoke test: invoke smoke --imag '$IMAGE' --arch '$ARCH' --junit "
        "'$DIST/junit.xml': No idea what '--imag' is!",
        "ci.yml: jobs.index: Merge the architectures into one index and tag it: invoke publish-idx --image '$IMAGE' "
        "--registry '${REGISTRY:-ghcr.io/${owner,,}}' --ref '$GITHUB_REF' --sha '$GITHUB_SHA': "
        "No idea what 'publish-idx' is!",
    ]
    result = invoke_lint(project)
    assert result.returncode == 2
    assert "No idea what '--imag' is!" in result.stdout
    assert "No idea what 'publish-idx' is!" in result.stdout
    assert result.stderr.strip().splitlines()[-1] == (
        f"rootfs-ci: error: 2 problem(s) in {project / '.github' / 'workflows'}; see above"
    )


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ('invoke build --image "$IMAGE"', [["build", "--image", "$IMAGE"]]),
        ("cd x && invoke a --b c; invoke d || true", [["a", "--b", "c"], ["d"]]),
        ('sudo env "PATH=$PATH" invoke qemu.setup --arch "$ARCH"', [["qemu.setup", "--arch", "$ARCH"]]),
        ('"${as_root[@]}" invoke qemu.setup', [["qemu.setup"]]),
        ("invoke publish \\\n  --by-digest  # trailing comment", [["publish", "--by-digest"]]),
        (".venv/bin/invoke lint\npython -m invoke matrix", [["lint"], ["matrix"]]),
        ('echo "run invoke smoke later"', []),
    ],
)
def test_invoke_commands_are_found_in_shell(script: str, expected: list[list[str]]) -> None:
    assert list(invoke_commands(script)) == expected


def test_missing_value_and_extra_words_are_caught(tmp_path: Path, tasks: object) -> None:
    workflow = tmp_path / ".github" / "workflows" / "x.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(
        "on: push\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: invoke publish --image\n      - run: invoke smoke extra\n      - run: invoke --echo\n"
    )
    problems = [p.message for p in check_tasks([workflow], tasks)]  # type: ignore[arg-type]
    assert problems == [
        "invoke publish --image: Flag <Argument: image (i)> needed value and was not given one!",
        "invoke smoke extra: No idea what 'extra' is!",
        "invoke --echo: names no task",
    ]


def test_pins_reusable_calls_and_hardening_are_checked(tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "called.yml").write_text(
        "on:\n  workflow_call:\n    inputs:\n      image:\n        type: string\n        required: true\n"
        "    secrets:\n      token:\n        required: false\npermissions: {}\njobs: {}\n"
    )
    caller = workflows / "caller.yml"
    caller.write_text(
        "on: push\njobs:\n"
        "  call:\n    uses: ./.github/workflows/called.yml\n    with:\n      imag: x\n    secrets: inherit\n"
        "  steps:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - uses: actions/cache@27d5ce7f107fe9357f9df03efb73ab90386fccae\n"
        "      - uses: actions/cache@27d5ce7f107fe9357f9df03efb73ab90386fccae # v5.0.5\n"
        "      - uses: ./local-action\n"
    )
    files = [workflows / "called.yml", caller]
    assert [str(p) for p in check_pins(files)] == [
        "caller.yml:11: actions/checkout@v4 is not pinned by a full 40-hex commit SHA",
        "caller.yml:12: actions/cache@27d5ce7f107fe9357f9df03efb73ab90386fccae needs its version in a comment, "
        "e.g. '# v4.2.2'",
    ]
    assert [str(p) for p in check_reusable_calls(files, tmp_path)] == [
        "caller.yml: jobs.call: ./.github/workflows/called.yml has no input 'imag' (it has: image)",
        "caller.yml: jobs.call: required input 'image' of ./.github/workflows/called.yml is not given",
        "caller.yml: jobs.call: secrets: inherit passes every secret; pass the ones it needs",
    ]
    assert [str(p) for p in check_hardening(files)] == [
        "caller.yml: no top-level permissions; add 'permissions: contents: read'",
        "caller.yml: jobs.steps: no timeout-minutes",
    ]


def test_lint_reports_schema_and_zizmor_findings(tmp_path: Path, shared_cache: Path, tasks: object) -> None:
    project = copy_with_workflows(tmp_path, shared_cache)
    ci = project / ".github" / "workflows" / "ci.yml"
    text = ci.read_text()
    # An untrusted value interpolated into a script (zizmor: template-injection) and a typo'd key (schema).
    text = text.replace("  ./dev test -q --junitxml=", '  echo "${{ github.head_ref }}" --junitxml=')
    text = text.replace("    timeout-minutes: 10\n", "    timeout-minutes: 10\n    runs_on: typo\n", 1)
    ci.write_text(text)
    problems = [str(p) for p in lint(project, tasks)]  # type: ignore[arg-type]
    assert any(p.startswith("check-jsonschema:") for p in problems), problems
    assert any(p.startswith("zizmor:") and "template-injection" in p for p in problems), problems


def test_missing_lint_tools_name_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the lint extra (no actionlint beside this Python or on PATH): one line naming it."""
    (tmp_path / ".git").mkdir()
    workflow = tmp_path / ".github" / "workflows" / "x.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text("on: push\npermissions: {}\njobs: {}\n")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(ConfigError) as caught:
        check_actionlint([workflow], tmp_path)
    assert str(caught.value) == "actionlint not found; install the lint tools: pip install 'rootfs-ci[lint]'"
