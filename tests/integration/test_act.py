"""ci.yml executed with nektos/act on this machine: a branch push, a release tag push made with
``invoke release``, and a pull request (tests/act_runner.py says how act is set up).

Each run uses a throwaway git repository holding this work tree's files (a fixture CHANGELOG, its
own local image tag); the debian backend (repository variable ROOTFS_CI_BACKEND) and a loopback
registry (ROOTFS_CI_REGISTRY). The 'lint and tests' job is stood in under act (ci.yml skips the
suite when act's ACT variable is set): this suite is what runs act; the release commit's own
tests are test_release_commit.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from rootfs_ci.config import DEFAULT_TAG_RULES, NAMESPACE
from rootfs_ci.image.oci import MEDIA_INDEX
from rootfs_ci.registry.client import RegistryClient
from rootfs_ci.registry.local import LocalRegistry
from rootfs_ci.registry.repository import Repository
from rootfs_ci.registry.target import parse_target
from rootfs_ci.tags import compute_tags
from tests.act_runner import ActRun, run_act
from tests.diff_fixtures import publish_build, stage_build
from tests.helpers import CHANGELOG, GIT_ENV, REPO, Project, git, image_tags

pytestmark = [pytest.mark.act, pytest.mark.docker]

PLATFORMS = [{"architecture": "amd64", "os": "linux"}, {"architecture": "arm64", "os": "linux", "variant": "v8"}]


def throwaway_repository(target: Path, cache: Path, local_tag: str, images: list[str] | None = None) -> Project:
    """This work tree's files (tracked and new, not ignored) committed into a new git repository."""
    listed = git(REPO, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_symlink() or source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name, follow_symlinks=False)
    (target / "CHANGELOG.md").write_text(CHANGELOG)
    project = Project(target)

    def configure(data: dict[str, object]) -> None:
        settings = data[NAMESPACE]
        assert isinstance(settings, dict)
        settings.update(local_tag=local_tag, cache_dir=str(cache))
        if images is not None:
            settings["images"] = {name: settings["images"][name] for name in images}
            settings["default_image"] = images[0]

    project.edit_config(configure)
    git(target, "init", "-q", "-b", "main")
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "the work tree")
    return project


@pytest.fixture(scope="module")
def act_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The act runs' own .deb cache: the session's shared one must stay as cold as other tests expect."""
    return tmp_path_factory.mktemp("act-cache")


@pytest.fixture
def local_tag(engine: docker.DockerClient) -> Iterator[str]:
    tag = f"act-{uuid.uuid4().hex[:8]}"
    yield tag
    for reference in image_tags(engine):
        if tag in reference:
            with contextlib.suppress(docker.errors.NotFound):
                engine.images.remove(reference, force=True)


# act's job names: ci/NAME[-N] for ci.yml's own jobs, CALLER-N/WORKFLOW/NAME for a called workflow's
CALLED_JOB = re.compile(r"^[\w-]+/(?:build|publish)-image/(?P<kind>\w+) (?P<entry>\S+)(?: by digest)?$")


def jobs_by_kind(run: ActRun) -> dict[str, list[str]]:
    """{'build': ['testrfs/x86_64', ...], 'index': ['testrfs', ...], 'build matrix': [''], ...}"""
    kinds: dict[str, list[str]] = {}
    for job in run.jobs:
        if (match := CALLED_JOB.match(job.job)) is not None:
            kind, entry = match["kind"], match["entry"]
        else:
            name = re.sub(r"-\d+$", "", job.job.removeprefix("ci/"))
            kind, _, entry = name.partition(" ") if name.startswith(("index ", "diff ")) else (name, "", "")
        kinds.setdefault(kind, []).append(entry)
    return {kind: sorted(entries) for kind, entries in kinds.items()}


def run_ci(title: str, project: Project, event_name: str, event: dict[str, Any], variables: dict[str, str]) -> ActRun:
    """ci.yml under act; every job it started succeeded. Prints the job table (pytest -s shows it)."""
    run = run_act(project.path, event_name, event, variables, project.path.parent / "act")
    print(f"\n== {title} ==\n{run.table()}")
    assert run.returncode == 0, str(run)
    assert {job.result for job in run.jobs} == {"success"}, str(run)
    return run


EVERY_ENTRY = ["apacheinit/aarch64", "apacheinit/x86_64", "testrfs/aarch64", "testrfs/x86_64"]


def test_branch_push_builds_and_smokes_every_image_and_arch(tmp_path: Path, act_cache: Path, local_tag: str) -> None:
    project = throwaway_repository(tmp_path / "repo", act_cache, local_tag)
    event = {"ref": "refs/heads/main", "after": git(project.path, "rev-parse", "HEAD")}
    run = run_ci("branch push", project, "push", event, {"ROOTFS_CI_BACKEND": "debian"})
    assert jobs_by_kind(run) == {
        "lint and tests": [""],
        "build matrix": [""],
        "build": EVERY_ENTRY,
        "smoke": EVERY_ENTRY,
    }
    assert "act: the test suite running this workflow stands in for it" in run.output("ci/lint and tests")
    for entry in EVERY_ENTRY:
        image, arch = entry.split("/")
        reference = f"{image}:{local_tag}" + ("" if arch == "x86_64" else f"-{arch}")
        smoke = next(job.job for job in run.jobs if job.job.endswith(f"/smoke {entry}"))
        assert f"smoke {reference}: passed" in run.output(smoke)


def publish_release(registry: str, image: str, directory: Path) -> None:
    """A 'latest release' of ``image`` for a pull request's diff: a tiny build as 0.1.0, its SBOM attached."""
    stage_build(directory, {"bin/busybox": b"an old busybox"}, {"busybox": "1:0.1-old"}, image=image)
    publish_build(registry, image, directory, ["0.1.0"])


def test_pull_request_builds_smokes_and_diffs_but_never_publishes(
    tmp_path: Path, act_cache: Path, local_tag: str, registry_server: LocalRegistry
) -> None:
    project = throwaway_repository(tmp_path / "repo", act_cache, local_tag, images=["testrfs"])
    project.edit_config(lambda data: data[NAMESPACE]["images"]["testrfs"].update(platforms=["x86_64"]))
    git(project.path, "commit", "-q", "-am", "one entry")
    registry = f"{registry_server.address}/act{uuid.uuid4().hex[:8]}"
    publish_release(registry, "testrfs", tmp_path / "release")
    event = {
        "number": 7,
        "pull_request": {"number": 7, "head": {"ref": "feature", "sha": git(project.path, "rev-parse", "HEAD")},
                         "base": {"ref": "main"}},
    }  # fmt: skip
    variables = {"ROOTFS_CI_BACKEND": "debian", "ROOTFS_CI_REGISTRY": registry}
    run = run_ci("pull request", project, "pull_request", event, variables)
    # release (publish-image.yml) and index only run for a vX.Y.Z tag
    assert jobs_by_kind(run) == {
        "lint and tests": [""],
        "build matrix": [""],
        "build": ["testrfs/x86_64"],
        "smoke": ["testrfs/x86_64"],
        "diff": ["testrfs/x86_64"],
    }
    # The step summary's Markdown (tee'd into the log): the build against the release's files and SBOM.
    summary = run.output(next(job.job for job in run.jobs if job.job.startswith("ci/diff")))
    assert "### Image diff: testrfs/x86_64" in summary
    assert f"`dist/testrfs/x86_64` against `{registry}/testrfs:0.1.0`" in summary
    assert re.search(r"\| `/bin/busybox` \| changed \| file \|", summary), summary
    assert re.search(r"\| busybox \| changed \| 1:0.1-old \| \S+ \|", summary), summary


def platform_name(platform: dict[str, str]) -> str:
    return "/".join(filter(None, (platform["os"], platform["architecture"], platform.get("variant"))))


def get_page(port: str, deadline: float) -> tuple[int, str]:
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                return response.status, response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_release_tag_made_with_invoke_release_publishes_the_index_and_its_tags(
    tmp_path: Path, act_cache: Path, local_tag: str, registry_server: LocalRegistry, engine: docker.DockerClient
) -> None:
    project = throwaway_repository(tmp_path / "repo", act_cache, local_tag)
    released = subprocess.run(
        [sys.executable, "-m", "invoke", "release", "--bump", "minor"],
        cwd=project.path, env={**os.environ, **GIT_ENV}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert released.returncode == 0, released.stderr
    ref, sha = "refs/tags/v0.1.0", git(project.path, "rev-parse", "HEAD")
    assert git(project.path, "rev-parse", "v0.1.0^{commit}") == sha
    registry = f"{registry_server.address}/act{uuid.uuid4().hex[:8]}"
    variables = {"ROOTFS_CI_BACKEND": "debian", "ROOTFS_CI_REGISTRY": registry}
    run = run_ci("tag push (invoke release --bump minor)", project, "push", {"ref": ref, "after": sha}, variables)
    assert jobs_by_kind(run) == {
        "lint and tests": [""],
        "build matrix": [""],
        "build": EVERY_ENTRY,
        "smoke": EVERY_ENTRY,
        "publish": EVERY_ENTRY,
        "sign": EVERY_ENTRY,
        "index": ["apacheinit", "testrfs"],
    }
    signing = [job.job for job in run.jobs if "/sign " in job.job]
    assert all("act: keyless signing of" in run.output(job) for job in signing)

    parsed = parse_target(registry)
    expected_tags = sorted(compute_tags(ref, sha, DEFAULT_TAG_RULES, ()))
    pulled: list[str] = []
    container = None
    try:
        for image in ("testrfs", "apacheinit"):
            repository = Repository(RegistryClient(parsed), parsed.repository(image))
            assert sorted(repository.tags()) == expected_tags
            body, info = repository.get_manifest("0.1.0")
            index = json.loads(body)
            assert index["mediaType"] == MEDIA_INDEX
            assert [m["platform"] for m in index["manifests"]] == PLATFORMS
            platforms = ", ".join(platform_name(m["platform"]) for m in index["manifests"])
            print(f"{registry}/{image}: index {info.digest} [{platforms}], tags {' '.join(expected_tags)}")
            for tag in expected_tags:
                reference = f"{registry}/{image}:{tag}"
                result = subprocess.run(
                    ["docker", "pull", "-q", reference], capture_output=True, text=True, check=False
                )
                assert result.returncode == 0, result.stderr
                pulled.append(reference)
                assert engine.images.get(reference).attrs["RepoDigests"] == [f"{registry}/{image}@{info.digest}"]
        arm = subprocess.run(
            ["docker", "run", "--rm", "--platform", "linux/arm64", f"{registry}/testrfs:0.1.0", "uname", "-m"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert (arm.returncode, arm.stdout.strip()) == (0, "aarch64"), arm.stderr
        pulled.append(f"{registry}/testrfs:0.1.0")  # now the arm64 image
        container = engine.containers.run(
            f"{registry}/apacheinit:0.1.0", detach=True, ports={"80/tcp": ("127.0.0.1", None)}
        )
        container.reload()
        port = container.ports["80/tcp"][0]["HostPort"]
        status, page = get_page(port, time.monotonic() + 60)
        assert status == 200
        assert "It works!" in page
    finally:
        if container is not None:
            container.remove(force=True)
        for reference in pulled:
            subprocess.run(["docker", "rmi", "-f", reference], capture_output=True, check=False)
