"""What git says about the project: revision and source URL for the OCI labels."""

from __future__ import annotations

import subprocess
from pathlib import Path


def _git(project_dir: Path, *args: str) -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(project_dir), *args], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def revision(project_dir: Path) -> str:
    return _git(project_dir, "rev-parse", "HEAD")


def source_url(project_dir: Path) -> str:
    url = _git(project_dir, "remote", "get-url", "origin")
    if url.startswith("git@") and ":" in url:
        host, _, path = url[4:].partition(":")
        url = f"https://{host}/{path}"
    return url.removesuffix(".git") if url.startswith("https://") else ""


def clean_head_commit(directory: Path) -> str:
    """HEAD of the checkout holding ``directory`` if its tracked files are unchanged, else ""."""
    if _git(directory, "status", "--porcelain", "--untracked-files=no"):
        return ""
    return _git(directory, "rev-parse", "HEAD")
