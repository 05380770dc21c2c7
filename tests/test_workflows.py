"""The GitHub workflows: offline lint (schema, zizmor, pins, calls, invoke commands); the release flow walked here."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import docker
import pytest

from ci.config import DEFAULT_TAG_RULES, NAMESPACE
from ci.image.oci import MEDIA_INDEX
from ci.lint import (
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
from ci.registry.client import RegistryClient
from ci.registry.local import LocalRegistry
from ci.registry.repository import Repository
from ci.registry.target import parse_target
from ci.tags import compute_tags
from ci.tasks import namespace
from tests.helpers import REPO, make_project
from tests.workflow_walk import Walk, condition, dump, interpolate

pytest_plugins = ["tests.conftest_registry"]

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
        "publish",
        "publish-index",
    }
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


@pytest.mark.parametrize(
    ("ref", "runs"),
    [
        ("refs/heads/main", {"test", "matrix", "build"}),
        ("refs/pull/7/merge", {"test", "matrix", "build"}),
        ("refs/tags/v1.2.3", {"test", "matrix", "release", "index"}),
    ],
)
def test_which_ci_jobs_run_for_a_ref(ref: str, runs: set[str]) -> None:
    """Branches and pull requests build and smoke-test; only a version tag publishes (and never builds twice)."""
    workflow = load_workflow(WORKFLOWS / "ci.yml")
    jobs = workflow["jobs"]
    context = {"github": {"ref": ref}}
    # A new push cancels a superseded branch or pull request run, never a release run.
    assert interpolate(workflow["concurrency"]["cancel-in-progress"], context) is not ref.startswith("refs/tags/")
    assert {job_id for job_id, job in jobs.items() if condition(job.get("if"), context, failed=False)} == runs
    assert {job_id for job_id, job in jobs.items() if "packages" in (job.get("permissions") or {})} == {
        "release",
        "index",
    }


# -- the release flow, walked here --------------------------------------------------------------


@pytest.mark.docker
def test_release_flow_walked_against_a_local_registry(
    tmp_path: Path, shared_cache: Path, registry_server: LocalRegistry, engine: docker.DockerClient
) -> None:
    """ci.yml's release path as written: each arch through build-image.yml (build, smoke, publish by
    digest), then the index job, against a real registry; the debian backend (Buildroot cannot
    download here) builds testrfs for x86_64 and aarch64."""
    local_tag = f"wf-{uuid.uuid4().hex[:8]}"
    registry = f"{registry_server.address}/w{uuid.uuid4().hex[:10]}"
    local_refs = [f"testrfs:{local_tag}", f"testrfs:{local_tag}-aarch64"]

    def checkout(job_dir: Path) -> None:
        make_project(job_dir, shared_cache).edit_config(lambda data: data[NAMESPACE].update(local_tag=local_tag))

    def fresh_engine(job: str) -> None:
        # Each job of a real run gets a new runner: the smoke job must load the build's artifact itself.
        for reference in local_refs:
            subprocess.run(["docker", "rmi", reference], capture_output=True, check=False)

    github = {"ref": REF, "sha": SHA, "repository_owner": "Rootfs-CI", "token": "", "event_name": "push"}
    walk = Walk(WORKFLOWS, checkout, tmp_path / "walk", github, {"ROOTFS_CI_REGISTRY": registry}, fresh_engine)
    matrix_project = make_project(tmp_path / "matrix", shared_cache)
    listed = matrix_project.invoke("matrix")
    assert listed.returncode == 0, listed.stderr
    entries = [e for e in json.loads(listed.stdout)["include"] if e["image"] == "testrfs"]
    assert [e["arch"] for e in entries] == ["x86_64", "aarch64"]
    pulled = f"{registry}/testrfs:1.2.3"
    image_ids: list[str] = []
    try:
        digests = {entry["arch"]: walk.call("ci.yml", "release", entry)["digest"] for entry in entries}
        index_outputs = walk.run_job("ci.yml", "index", matrix={"image": "testrfs"})
        assert index_outputs is not None

        commands = [(step.job.split(" ")[0], argv[0]) for step in walk.log for argv in step.invoke]
        per_arch = [
            ("build-image.yml:build", "ci-info"),
            ("build-image.yml:build", "build"),
            ("build-image.yml:build", "image"),
            ("build-image.yml:smoke", "qemu.setup"),
            ("build-image.yml:smoke", "ci-info"),
            ("build-image.yml:smoke", "smoke"),
            ("build-image.yml:publish", "ci-info"),
            ("build-image.yml:publish", "publish"),
        ]
        assert commands == per_arch * 2 + [("ci.yml:index", "publish-index")], dump(walk.log)
        smoke_runs = [step for step in walk.log if "smoke" in [argv[0] for argv in step.invoke]]
        assert [step.stdout.strip().rsplit(" (", 1)[0] for step in smoke_runs] == [
            f"smoke testrfs:{local_tag}: passed",
            f"smoke testrfs:{local_tag}-aarch64: passed",
        ]
        uploads = [step.kind for step in walk.log if step.kind.startswith("upload")]
        assert any("junit.xml" in kind and "-aarch64-smoke" in kind for kind in uploads), uploads
        assert (
            "upload rootfs-ci-published-testrfs-aarch64: "
            "testrfs/aarch64/image.json, testrfs/aarch64/publish.json, testrfs/aarch64/smoke.json"
        ) in uploads

        parsed = parse_target(registry)
        repo = Repository(RegistryClient(parsed), parsed.repository("testrfs"))
        body, info = repo.get_manifest("1.2.3")
        index = json.loads(body)
        index_job_dir = walk.job_dirs["index"][-1]
        assert (
            info.digest == json.loads((index_job_dir / "dist" / "testrfs" / "publish-index.json").read_text())["digest"]
        )
        assert index["mediaType"] == MEDIA_INDEX
        assert [(m["digest"], m["platform"]) for m in index["manifests"]] == [
            (digests["x86_64"], {"architecture": "amd64", "os": "linux"}),
            (digests["aarch64"], {"architecture": "arm64", "os": "linux", "variant": "v8"}),
        ]
        assert sorted(repo.tags()) == sorted(compute_tags(REF, SHA, DEFAULT_TAG_RULES, ()))

        result = subprocess.run(
            ["docker", "pull", "--platform", "linux/arm64", pulled], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr
        image = engine.images.get(pulled)
        image_ids.append(image.id)
        assert image.attrs["Architecture"] == "arm64"
        assert image.attrs["RepoDigests"] == [f"{registry}/testrfs@{info.digest}"]
        ran = subprocess.run(
            ["docker", "run", "--rm", "--platform", "linux/arm64", pulled, "uname", "-m"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert (ran.returncode, ran.stdout.strip()) == (0, "aarch64"), ran.stderr

        # invoke verify pulls each platform of the index by digest, checks it, and smokes it again
        for arch in ("x86_64", "aarch64"):
            verified = subprocess.run(
                [sys.executable, "-m", "invoke", "verify", "--image", "testrfs", "--arch", arch, "--tag", "1.2.3",
                 "--registry", registry],
                cwd=index_job_dir, capture_output=True, text=True, check=False,
            )  # fmt: skip
            assert verified.returncode == 0, verified.stderr
            assert f"{arch} entry is {digests[arch][:19]}" in verified.stderr
            assert "passed, 0 failed" in verified.stderr
    finally:
        for reference in [*local_refs, pulled, *image_ids]:
            subprocess.run(["docker", "rmi", reference], capture_output=True, check=False)
    leftovers = [tag for image in engine.images.list() for tag in image.tags if local_tag in tag or registry in tag]
    assert leftovers == []
