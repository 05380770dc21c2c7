"""The pinned Buildroot source: cloned once by tag, verified against the pinned commit, cached.

A shallow clone of one tag is the smallest download that still lets us prove what we got: the
tag may move, the commit may not, so HEAD must equal the pinned commit or nothing is kept.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from rootfs_ci.config import NAMESPACE, BuildrootConfig
from rootfs_ci.errors import BackendError, ConfigError
from rootfs_ci.fsutil import scratch_dir
from rootfs_ci.gitinfo import git
from rootfs_ci.progress import Progress

MAKEFILE_VERSION = re.compile(r"^export BR2_VERSION := (\S+)$", re.MULTILINE)


@dataclass(frozen=True)
class Cache:
    """Where the buildroot backend keeps what outlives a build (all under rootfs_ci.cache_dir)."""

    root: Path

    @property
    def downloads(self) -> Path:
        return self.root / "dl"

    @property
    def ccache(self) -> Path:
        return self.root / "ccache"

    @property
    def sources(self) -> Path:
        return self.root / "src"

    def output(self, image: str, arch: str) -> Path:
        """Buildroot's O= for one image and architecture (kept, so rebuilds are incremental)."""
        return self.root / "output" / f"{image}-{arch}"

    def config_output(self, image: str) -> Path:
        """O= for configuration-only work (check, menuconfig, savedefconfig): never disturbs a build."""
        return self.root / "config" / image

    def log(self, image: str, arch: str) -> Path:
        return self.root / "logs" / f"{image}-{arch}.log"


def _git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    if shutil.which("git") is None:
        raise BackendError("git not found: the buildroot backend clones Buildroot with git; install git")
    return git(cwd, *args, env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"})


def head_commit(checkout: Path) -> str:
    result = _git("rev-parse", "HEAD", cwd=checkout)
    return result.stdout.strip() if result.returncode == 0 else ""


def _reason(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith("fatal:")]
    return (fatal or lines or ["no message"])[-1][:200]


def _manual_source(path: Path, pin: BuildrootConfig) -> Path:
    """A checkout must be at the pinned commit; an unpacked release must say it is the pinned version."""
    key = f"{NAMESPACE}.buildroot.source_dir"
    makefile = path / "Makefile"
    match = (
        MAKEFILE_VERSION.search(makefile.read_text(encoding="utf-8", errors="replace")) if makefile.is_file() else None
    )
    if match is None:
        raise ConfigError(
            f"{key}: {path} is not a Buildroot source tree (its Makefile sets no BR2_VERSION); fix the path"
        )
    if (path / ".git").exists():
        head = head_commit(path)
        if head != pin.commit:
            raise ConfigError(
                f"{key}: {path} is at commit {head[:12] or 'unknown'}, not Buildroot {pin.version} "
                f"({pin.commit[:12]}); run 'git -C {path} checkout {pin.version}'"
            )
    elif match[1] != pin.version:
        raise ConfigError(
            f"{key}: {path} is Buildroot {match[1]}, not the pinned {pin.version}; use a {pin.version} tree"
        )
    return path


def source_tree(pin: BuildrootConfig, project_dir: Path, cache: Cache, progress: Progress) -> Path:
    """A Buildroot tree at the pinned tag and commit: the configured one, the cached clone, or a new clone."""
    if pin.source_dir:
        path = _manual_source((project_dir / pin.source_dir).resolve(), pin)
        progress.step(f"Buildroot {pin.version}: source {path} ({NAMESPACE}.buildroot.source_dir)")
        return path
    target = cache.sources / f"buildroot-{pin.version}-{pin.commit[:12]}"
    if target.exists():
        if head_commit(target) == pin.commit:
            progress.step(f"Buildroot {pin.version}: cached source {target}")
            return target
        shutil.rmtree(target)  # an interrupted or tampered copy; fetch it again
    progress.step(f"Buildroot {pin.version}: cloning tag {pin.version} of {pin.git_url}")
    with scratch_dir(cache.sources, ".clone-") as scratch:
        checkout = scratch / "buildroot"
        cloned = _git(
            "-c", "advice.detachedHead=false", "-c", "http.lowSpeedLimit=1000", "-c", "http.lowSpeedTime=60",
            "clone", "--quiet", "--depth", "1", "--branch", pin.version, "--", pin.git_url, str(checkout),
        )  # fmt: skip
        if cloned.returncode != 0:
            raise BackendError(
                f"cannot get Buildroot {pin.version}: 'git clone --depth 1 --branch {pin.version} {pin.git_url}' "
                f"failed ({_reason(cloned.stderr)}); without network, set {NAMESPACE}.buildroot.source_dir to a "
                f"Buildroot checkout of tag {pin.version} (commit {pin.commit[:12]})"
            )
        head = head_commit(checkout)
        if head != pin.commit:
            raise BackendError(
                f"Buildroot tag {pin.version} at {pin.git_url} is commit {head[:12] or 'unknown'}, not the pinned "
                f"{pin.commit[:12]}; refusing it (fix {NAMESPACE}.buildroot.commit only if you trust the new commit)"
            )
        if not target.exists():
            checkout.rename(target)
    progress.step(f"Buildroot {pin.version}: commit {pin.commit[:12]} verified, cached at {target}")
    return target
