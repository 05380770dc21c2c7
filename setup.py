"""Build hook: record the git commit a wheel is built from, so `rootfs-ci init` can pin our workflow by SHA."""

import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


def _head_commit() -> str:
    try:
        result = subprocess.run(
            ["git", "-C", str(Path(__file__).parent), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        )
        if result.stdout.strip():
            return ""  # a dirty tree is no commit anyone can pin
        head = subprocess.run(
            ["git", "-C", str(Path(__file__).parent), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return ""
    return head.stdout.strip()


class BuildPyWithCommit(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "rootfs_ci" / "_build_info.py"
        target.write_text(f'"""Written at build time."""\n\nCOMMIT = "{_head_commit()}"\n', encoding="utf-8")


setup(cmdclass={"build_py": BuildPyWithCommit})
