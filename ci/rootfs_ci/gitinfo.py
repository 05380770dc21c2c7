"""Running git, and what git says about the project: revision and source URL for the OCI labels."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path


def git(directory: Path | None, *args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The one way to run git: in ``directory`` (``git -C``) when given, text output captured.

    git's exit status is left to the caller; OSError (git missing) propagates.
    """
    where = [] if directory is None else ["-C", str(directory)]
    return subprocess.run(["git", *where, *args], capture_output=True, text=True, check=False, env=env)


def output(project_dir: Path, *args: str) -> str:
    """git's output, stripped, or "" when git fails or is missing."""
    try:
        result = git(project_dir, *args)
    except OSError:
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def revision(project_dir: Path) -> str:
    return output(project_dir, "rev-parse", "HEAD")


def source_url(project_dir: Path) -> str:
    url = output(project_dir, "remote", "get-url", "origin")
    if url.startswith("git@") and ":" in url:
        host, _, path = url[4:].partition(":")
        url = f"https://{host}/{path}"
    return url.removesuffix(".git") if url.startswith("https://") else ""


def clean_head_commit(directory: Path) -> str:
    """HEAD of the checkout holding ``directory`` if its tracked files are unchanged, else ""."""
    if output(directory, "status", "--porcelain", "--untracked-files=no"):
        return ""
    return output(directory, "rev-parse", "HEAD")
