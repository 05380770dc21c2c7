"""rootfs-ci's own version and source commit, as recorded when the package was built.

The version is the git tag ``invoke release`` made (setuptools-scm writes it into ``_version.py``);
the commit comes from ``_build_info.py`` (written into wheels by setup.py) or, in an editable
install, from the checkout itself.
"""

from __future__ import annotations

import importlib
from importlib import metadata
from pathlib import Path

from rootfs_ci.gitinfo import clean_head_commit


def _generated(module: str, name: str) -> str | None:
    try:
        return str(getattr(importlib.import_module(f"rootfs_ci.{module}"), name))
    except (ImportError, AttributeError):
        return None


def _installed_version() -> str:
    found = _generated("_version", "version")
    if found is not None:
        return found
    try:
        return metadata.version("rootfs-ci")
    except metadata.PackageNotFoundError:
        return "0.0.0"


__version__ = _installed_version()


def source_commit() -> str:
    """The full git commit this rootfs-ci was built from ("" when unknown, e.g. built from a dirty tree)."""
    recorded = _generated("_build_info", "COMMIT")
    if recorded is not None:
        return recorded
    return clean_head_commit(Path(__file__).resolve().parent)
