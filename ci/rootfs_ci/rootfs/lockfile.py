"""The lock file: per image x architecture, exactly which inputs a build uses.

JSON, a section per IMAGE/ARCH/BACKEND, one line per package (sorted by name) so a diff names
exactly the packages that moved::

    {
      "lock_version": 1,
      "sections": {
        "apacheinit/x86_64/debian": {
          "backend": "debian",
          "inputs": {"packages": [...], "suites": ["bookworm", "bookworm-updates"],
                     "security_suite": "bookworm-security", "components": ["main"], "snapshot": ""},
          "packages": [
            {"name": "busybox", "version": "...", ..., "suite": "bookworm", "snapshot": ""},
          ]
        }
      }
    }

``inputs`` is what the section was resolved from; a build whose invoke.yaml says otherwise is refused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rootfs_ci.errors import ConfigError
from rootfs_ci.fsutil import shown, write_atomic

LOCK_VERSION = 1


@dataclass(frozen=True)
class LockedDeb:
    name: str
    version: str
    arch: str
    size: int
    sha256: str
    filename: str  # path in the archive's pool, e.g. pool/main/b/busybox/busybox_1.35.0-4_amd64.deb
    suite: str  # the suite it was resolved from: its archive (mirror or security mirror) serves it
    snapshot: str  # the snapshot it was resolved from ("" for the mirror's current index)


@dataclass(frozen=True)
class LockSection:
    backend: str
    inputs: dict[str, Any]
    packages: tuple[LockedDeb, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"backend": self.backend, "inputs": self.inputs, "packages": [asdict(p) for p in self.packages]}

    def digest(self) -> str:
        """sha256 of the section's canonical JSON: what rootfs.json and the SBOM record."""
        canonical = json.dumps(self.as_json(), sort_keys=True, separators=(",", ":")).encode()
        return f"sha256:{hashlib.sha256(canonical).hexdigest()}"


def section_key(image: str, arch: str, backend: str) -> str:
    return f"{image}/{arch}/{backend}"


def read_lock(path: Path) -> dict[str, LockSection]:
    """The lock's sections by key; empty when there is no lock file yet."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{shown(path)} is not a readable lock file ({exc}); restore it from git") from None
    try:
        if data["lock_version"] != LOCK_VERSION:
            raise ConfigError(f"{shown(path)} has lock_version {data['lock_version']}; this rootfs-ci reads 1")
        return {
            key: LockSection(
                backend=section["backend"],
                inputs=section["inputs"],
                packages=tuple(LockedDeb(**package) for package in section.get("packages", ())),
            )
            for key, section in data["sections"].items()
        }
    except (KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{shown(path)} is not a rootfs-ci lock file (bad {exc}); restore it from git") from None


def _line(value: Any) -> str:
    return json.dumps(value, separators=(", ", ": "))


def render_lock(sections: dict[str, LockSection]) -> str:
    """Stable text: sections and packages sorted, one package per line."""
    lines = ["{", f'  "lock_version": {LOCK_VERSION},', '  "sections": {']
    keys = sorted(sections)
    for number, key in enumerate(keys):
        section = sections[key]
        lines += [f"    {_line(key)}: {{", f'      "backend": {_line(section.backend)},']
        lines.append(f'      "inputs": {_line(section.inputs)},')
        packages = sorted(section.packages, key=lambda p: (p.name, p.arch))
        lines.append('      "packages": [' + ("" if packages else "]"))
        for index, package in enumerate(packages):
            lines.append(f"        {_line(asdict(package))}" + ("," if index < len(packages) - 1 else ""))
        if packages:
            lines.append("      ]")
        lines.append("    }" + ("," if number < len(keys) - 1 else ""))
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def write_lock(path: Path, sections: dict[str, LockSection]) -> None:
    write_atomic(path, render_lock(sections).encode())


def changes(old: LockSection | None, new: LockSection) -> list[str]:
    """What moved between two versions of a section, one phrase per package."""
    if old is None:
        return [f"new ({len(new.packages)} packages)" if new.packages else "new"]
    before = {p.name: p for p in old.packages}
    after = {p.name: p for p in new.packages}
    moved = []
    for name in sorted(before.keys() | after.keys()):
        was, now = before.get(name), after.get(name)
        if was is None or now is None:
            moved.append(f"{name} {'added' if was is None else 'removed'}")
        elif was != now:
            moved.append(
                f"{name} {was.version} -> {now.version}" if was.version != now.version else f"{name} re-pinned"
            )
    if old.inputs != new.inputs and not moved:
        moved.append("inputs changed")
    return moved
