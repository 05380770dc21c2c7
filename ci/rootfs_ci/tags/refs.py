"""The ref and commit to tag when none is given: GitHub Actions' environment, else the git checkout."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rootfs_ci import gitinfo
from rootfs_ci.errors import ConfigError


def current_ref(project_dir: Path, environ: Mapping[str, str]) -> str:
    """GITHUB_REF in GitHub Actions, else the checked-out branch (refs/heads/...)."""
    if environ.get("GITHUB_REF"):
        return environ["GITHUB_REF"]
    try:
        result = gitinfo.git(project_dir, "symbolic-ref", "-q", "HEAD")
    except OSError:
        result = None
    if result is None or result.returncode != 0 or not result.stdout.strip():
        raise ConfigError("no branch is checked out and GITHUB_REF is not set; pass --ref, e.g. --ref refs/tags/v1.2.3")
    return result.stdout.strip()


def current_sha(project_dir: Path, environ: Mapping[str, str]) -> str:
    """GITHUB_SHA in GitHub Actions, else HEAD's commit ('' outside git: sha rules then give nothing)."""
    return environ.get("GITHUB_SHA") or gitinfo.revision(project_dir)
