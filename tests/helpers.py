"""Test helpers: a throwaway copy of this project, run through the real invoke CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import yaml

REPO = Path(__file__).resolve().parent.parent
PROJECT_FILES = ("tasks.py", "invoke.yaml", "rootfs-ci.lock")
# Never the repository's own CHANGELOG.md: right after a release its [Unreleased] is empty.
CHANGELOG = "# Changelog\n\n## [Unreleased]\n\n### Added\n- A test project.\n"
PROJECT_DIRS = ("overlay", "buildroot-config", "tests/smoke")


class Invocation(subprocess.CompletedProcess[str]):
    def __init__(self, args: list[str], returncode: int, stdout: str, stderr: str, pid: int) -> None:
        super().__init__(args, returncode, stdout, stderr)
        self.pid = pid


# git that reads no host or user configuration (identity, signing, hooks)
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Act Test",
    "GIT_AUTHOR_EMAIL": "act@example.invalid",
    "GIT_COMMITTER_NAME": "Act Test",
    "GIT_COMMITTER_EMAIL": "act@example.invalid",
}


def git(path: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=path, env={**os.environ, **GIT_ENV}, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


@dataclass
class Project:
    path: Path

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """Start ``python -m invoke ARGS`` in the project, as a user would (output piped)."""
        return subprocess.Popen(
            [sys.executable, "-m", "invoke", *args],
            cwd=self.path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )

    def invoke(self, *args: str, env: dict[str, str] | None = None, timeout: float = 600) -> Invocation:
        """Run ``python -m invoke ARGS`` to its end; keep its pid."""
        with self.start(*args, env=env) as process:
            stdout, stderr = process.communicate(timeout=timeout)
        return Invocation(list(process.args), process.returncode, stdout, stderr, process.pid)

    @property
    def config_file(self) -> Path:
        return self.path / "invoke.yaml"

    def edit_config(self, edit: Callable[[dict[str, Any]], None]) -> None:
        data = yaml.safe_load(self.config_file.read_text())
        edit(data)
        self.config_file.write_text(yaml.safe_dump(data, sort_keys=False))

    def files(self, relative: str) -> list[Path]:
        root = self.path / relative
        return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def copy_project(target: Path) -> Path:
    """A throwaway copy of this project (invoke.yaml, overlay, defconfigs, smoke specs) at ``target``,
    with a test CHANGELOG.md."""
    target.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        if (REPO / name).exists():
            shutil.copy2(REPO / name, target / name)
    for name in PROJECT_DIRS:
        if (REPO / name).exists():
            shutil.copytree(REPO / name, target / name, symlinks=True)
    (target / "CHANGELOG.md").write_text(CHANGELOG)
    return target


def make_project(target: Path, cache_dir: Path) -> Project:
    project = Project(copy_project(target))
    project.edit_config(lambda data: data["rootfs_ci"].update(cache_dir=str(cache_dir)))
    return project


def created_by(client: docker.DockerClient, pid: int, images: tuple[str, ...]) -> tuple[set[str], set[str]]:
    """Containers labelled with this rootfs-ci process and the default local tags (dev, dev-ARCH)
    of these images: what one run without --tag could have left in the engine; other sessions'
    work on the same engine is not counted."""
    containers = {
        c.id for c in client.containers.list(all=True, sparse=True, filters={"label": f"org.rootfs-ci.pid={pid}"})
    }
    tags = {tag for tag in image_tags(client) if tag.split(":")[0] in images and tag.split(":")[1].startswith("dev")}
    return containers, tags


def image_tags(client: docker.DockerClient) -> set[str]:
    """Every image tag on the engine, from one listing: images.list() inspects each image and fails
    when another process removes one meanwhile (the engine is shared)."""
    return {tag for image in client.api.images() for tag in image.get("RepoTags") or [] if tag != "<none>:<none>"}


def engine_state(client: docker.DockerClient) -> tuple[set[str], set[str]]:
    """(container IDs, image tags) on the engine now, to prove a run left nothing behind."""
    containers = {c.id for c in client.containers.list(all=True, sparse=True)}
    return containers, image_tags(client)


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
