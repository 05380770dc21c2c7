"""rootfs-ci used from another repository: installed from a wheel built from this checkout into a fresh
virtual environment (never an editable install), driven only through its console script and Invoke.

- examples/busybox-web: its own image, its own task and config key, another library's collection;
- ``rootfs-ci init`` in an empty directory: the starter's pipeline and lint pass with no edits.
Nothing here uses apacheinit, this repository's overlay or its smoke specs.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "busybox-web"


@dataclass(frozen=True)
class Consumer:
    venv: Path

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def run(self, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        # a consumer's environment: none of this checkout on PYTHONPATH
        env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
        return subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env, timeout=600, check=False)

    def invoke(self, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(cwd, self.bin("invoke"), *args)


def _checkout_as_a_commit(destination: Path) -> Path:
    """This checkout's files (tracked and new, not ignored) as one clean commit: the wheel records it."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        source = REPO / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.invalid", "-c", "commit.gpgsign=false"]
    for command in (["init", "-q"], ["add", "-A"], [*identity, "commit", "-qm", "wheel source"]):
        subprocess.run(["git", *command], cwd=destination, check=True, capture_output=True)
    return destination


@pytest.fixture(scope="module")
def consumer(tmp_path_factory: pytest.TempPathFactory) -> Consumer:
    work = tmp_path_factory.mktemp("consumer-env")
    source = _checkout_as_a_commit(work / "source")
    # the build backend is among the dev tools (no isolated build env); the venv gets no pip of its
    # own (ensurepip takes seconds): this one installs into it
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    wheel_command = ["wheel", "--no-deps", "--no-build-isolation", "-w", str(work / "wheels"), str(source)]
    subprocess.run([*pip, *wheel_command], check=True)
    (wheel,) = (work / "wheels").glob("rootfs_ci-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    install = ["--python", str(venv / "bin" / "python"), "install", f"{wheel}[lint]", "invocations"]
    subprocess.run([*pip, *install], check=True)
    return Consumer(venv)


@pytest.fixture
def remove_images() -> Iterator[list[Path]]:
    """Image records of what a test loaded; those images leave the engine afterwards."""
    records: list[Path] = []
    yield records
    client = docker.from_env()
    for record in records:
        if record.exists():
            with contextlib.suppress(docker.errors.NotFound):
                client.images.remove(json.loads(record.read_text())["image_id"], force=True)
    client.close()


def test_rootfs_ci_comes_from_the_wheel(consumer: Consumer, tmp_path: Path) -> None:
    result = consumer.run(tmp_path, consumer.bin("python"), "-c", "import rootfs_ci; print(rootfs_ci.__file__)")
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).is_relative_to(consumer.venv), result.stdout
    version = consumer.run(tmp_path, consumer.bin("rootfs-ci"), "--version")
    assert version.stdout.startswith("rootfs-ci ")


def test_example_consumer_builds_smokes_and_lints(
    consumer: Consumer, tmp_path: Path, remove_images: list[Path]
) -> None:
    project = tmp_path / "busybox-web"
    shutil.copytree(EXAMPLE, project)
    subprocess.run(["git", "init", "-q", str(project)], check=True)  # a repository of its own (lint wants one)
    remove_images.append(project / "dist" / "web" / "x86_64" / "image.json")

    listed = consumer.invoke(project, "--list")
    assert listed.returncode == 0, listed.stderr
    for name in ("pipeline", "pages", "checks.blacken", "registry.up"):
        assert name in listed.stdout

    pages = consumer.invoke(project, "pages")  # its own task, reading its own top-level config key
    assert pages.returncode == 0, pages.stderr
    assert pages.stdout.split() == ["about.html", "index.html"]

    pipeline = consumer.invoke(project, "pipeline")  # default image: the first (and only) one, web
    assert pipeline.returncode == 0, pipeline.stderr
    assert "smoke web:dev: passed (9 checks)" in pipeline.stdout

    lint = consumer.invoke(project, "lint")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    workflow = project / ".github" / "workflows" / "ci.yml"
    workflow.write_text(workflow.read_text().replace("run: invoke pages", "run: invoke pagez"))
    misspelt = consumer.invoke(project, "lint")
    assert misspelt.returncode == 2
    assert "ci.yml: jobs.pipeline: List the site's pages: invoke pagez: No idea what 'pagez' is!" in misspelt.stdout


def test_init_writes_a_starter_whose_pipeline_and_lint_pass(
    consumer: Consumer, tmp_path: Path, remove_images: list[Path]
) -> None:
    image = f"hello-{uuid.uuid4().hex[:8]}"
    project = tmp_path / "fresh"
    init = consumer.run(tmp_path, consumer.bin("rootfs-ci"), "init", str(project), "--image", image)
    assert init.returncode == 0, init.stderr
    assert "warning" not in init.stdout  # the wheel knows its commit: ci.yml pins the workflow by SHA
    remove_images.append(project / "dist" / image / "x86_64" / "image.json")
    written = sorted(str(path.relative_to(project)) for path in project.rglob("*") if path.is_file())
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    assert written == [
        ".github/workflows/ci.yml",
        "CHANGELOG.md",
        "invoke.yaml",
        "overlay/bin/start.sh",
        "overlay/www/index.html",
        "tasks.py",
        f"tests/smoke/{image}.yaml",
    ]

    pipeline = consumer.invoke(project, "pipeline")
    assert pipeline.returncode == 0, pipeline.stderr
    assert f"smoke {image}:dev: passed" in pipeline.stdout
    lint = consumer.invoke(project, "lint")
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_init_refuses_to_overwrite_and_lists_what_exists(consumer: Consumer, tmp_path: Path) -> None:
    (tmp_path / "tasks.py").write_text("# mine\n")
    (tmp_path / "invoke.yaml").write_text("mine: true\n")
    refused = consumer.run(tmp_path, consumer.bin("rootfs-ci"), "init")
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        f"rootfs-ci: error: init would overwrite invoke.yaml, tasks.py in {Path('.')}; move them away or pass --force"
    ]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["invoke.yaml", "tasks.py"]  # nothing written
    assert (tmp_path / "tasks.py").read_text() == "# mine\n"

    forced = consumer.run(tmp_path, consumer.bin("rootfs-ci"), "init", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "from rootfs_ci.tasks import namespace" in (tmp_path / "tasks.py").read_text()


def test_init_refuses_a_bad_image_name(consumer: Consumer, tmp_path: Path) -> None:
    refused = consumer.run(tmp_path, consumer.bin("rootfs-ci"), "init", "--image", "Bad Name")
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        "rootfs-ci: error: image name 'Bad Name' must be lowercase letters, digits and . _ -; pick another --image"
    ]
    assert list(tmp_path.iterdir()) == []
