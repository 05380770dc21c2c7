"""Packages from CycloneDX SBOMs (the build's sbom.json, or the one attached to a published image)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from rootfs_ci.diff.model import PackageChange

# Build tools (Buildroot's host packages) and fetched-but-unused Debian packages are not in the rootfs.
NOT_IN_ROOTFS = "excluded"


def sbom_packages(document: bytes) -> dict[str, str] | None:
    """name -> version of the packages in the rootfs; None when ``document`` is not a CycloneDX SBOM."""
    try:
        data = json.loads(document)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("bomFormat") != "CycloneDX":
        return None
    packages: dict[str, str] = {}
    for component in data.get("components") or []:
        if isinstance(component, dict) and component.get("scope") != NOT_IN_ROOTFS and component.get("name"):
            packages[str(component["name"])] = str(component.get("version") or "")
    return packages


def diff_packages(before: Mapping[str, str], after: Mapping[str, str]) -> tuple[PackageChange, ...]:
    changes = []
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        change = "added" if old is None else "removed" if new is None else "changed"
        changes.append(PackageChange(name, change, old, new))
    return tuple(changes)
