"""Debian packages as trees to take files from: extracted once per .deb, searched by path and soname."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rootfs_ci.arch import architecture
from rootfs_ci.archive import extract_tar
from rootfs_ci.errors import BackendError
from rootfs_ci.fsutil import resolve_in_root, scratch_dir

if TYPE_CHECKING:  # debs brings the HTTP client; config validation imports this module's callers
    from rootfs_ci.rootfs.debs import DebPackage


@dataclass
class Assembly:
    """What went into the rootfs, for the build record."""

    packages: list[DebPackage]
    provided_by: dict[str, str] = field(default_factory=dict)  # rootfs path -> package name

    def used_packages(self) -> set[str]:
        return set(self.provided_by.values())


def extract_deb(deb: Path, into: Path) -> None:
    """Extract a .deb's data archive with rootfs_ci.archive's safety rules."""
    with subprocess.Popen(
        ["dpkg-deb", "--fsys-tarfile", "--", str(deb)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        assert proc.stdout is not None
        extract_tar(proc.stdout, into, deb.name)
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise BackendError(f"{deb.name}: dpkg-deb failed ({stderr.strip()[:200]}); delete it from the cache")


def extracted(package: DebPackage, cache_dir: Path) -> Path:
    """The package's files, extracted once per .deb sha256 and then only read (never written)."""
    root = cache_dir / "extracted" / package.arch / f"{package.name}-{package.sha256[:16]}"
    if root.is_dir():
        return root
    with scratch_dir(cache_dir / "tmp", f"extract-{package.name}-") as scratch:
        extract_deb(package.path, scratch / "tree")
        root.parent.mkdir(parents=True, exist_ok=True)
        try:
            (scratch / "tree").rename(root)
        except OSError:
            if not root.is_dir():  # a concurrent build won the race with the same content: fine
                raise
    return root


class PackageTrees:
    """The extracted packages, searchable by path and by library name."""

    def __init__(self, trees: Sequence[tuple[str, Path]], arch: str) -> None:
        self.trees = list(trees)
        self.libraries: dict[str, tuple[Path, str, str]] = {}  # soname -> (file, target dir, package)
        triplet = architecture(arch).triplet
        search = (
            (f"lib/{triplet}", "lib"), ("lib", "lib"), ("lib64", "lib"),
            (f"usr/lib/{triplet}", "usr/lib"), ("usr/lib", "usr/lib"),
        )  # fmt: skip
        for package, root in self.trees:
            for relative_dir, target in search:
                directory = root / relative_dir
                if not directory.is_dir():
                    continue
                for entry in sorted(directory.iterdir()):
                    if ".so" in entry.name:
                        real = resolve_in_root(root, f"{relative_dir}/{entry.name}")
                        if real.is_file():
                            self.libraries.setdefault(entry.name, (real, target, package))

    def find(self, path: str) -> tuple[Path, str] | None:
        for package, root in self.trees:
            candidate = resolve_in_root(root, path)
            if candidate.is_file():
                return candidate, package
        return None


def install_file(source: Path, tree: Path, target: str) -> Path:
    """Copy a package's file to ``target`` in the rootfs (replacing what is there), keeping its mode."""
    destination = resolve_in_root(tree, target, follow_last=False)
    destination.parent.mkdir(parents=True, exist_ok=True)
    if destination.exists() or destination.is_symlink():
        destination.unlink()
    shutil.copyfile(source, destination)
    destination.chmod(source.stat().st_mode & 0o777)
    return destination
