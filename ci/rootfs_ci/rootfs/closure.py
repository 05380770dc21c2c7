"""The ELF closure: every library the rootfs's programs need (DT_NEEDED, loader, dlopen), and nothing more."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from rootfs_ci.errors import BackendError
from rootfs_ci.fsutil import resolve_in_root
from rootfs_ci.rootfs.elf import is_elf, read_elf
from rootfs_ci.rootfs.packages import Assembly, PackageTrees, install_file


def elf_files(tree: Path) -> Iterator[Path]:
    for dirpath, _dirnames, filenames in os.walk(tree):
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not path.is_symlink() and is_elf(path):
                yield path


def close_over_libraries(
    tree: Path, packages: PackageTrees, dlopen: Sequence[str], arch: str, assembly: Assembly
) -> int:
    """Add every library the tree's ELF files need (and their loader); return how many were added."""
    pending = sorted(elf_files(tree))
    needed_by: dict[str, str] = {soname: "dlopen (debian.dlopen)" for soname in dlopen}
    queue = list(dlopen)
    added = 0
    while pending or queue:
        while pending:
            path = pending.pop()
            relative = path.relative_to(tree).as_posix()
            try:
                info = read_elf(path)
            except ValueError as exc:
                raise BackendError(str(exc)) from None
            if info.machine != arch:
                raise BackendError(f"/{relative} is built for {info.machine}, not {arch}; use {arch} packages")
            names = list(info.needed)
            if info.interpreter:
                names.append(Path(info.interpreter).name)
            for soname in names:
                if soname not in needed_by:
                    needed_by[soname] = f"/{relative}"
                    queue.append(soname)
        while queue:
            soname = queue.pop(0)
            if any((tree / directory / soname).exists() for directory in ("lib", "usr/lib")):
                continue
            found = packages.libraries.get(soname)
            if found is None:
                raise BackendError(
                    f"{soname} (needed by {needed_by[soname]}) is in none of the image's packages; add the Debian "
                    f"package that ships it to debian.packages (find it with: dpkg -S {soname})"
                )
            source, target_dir, package = found
            pending.append(install_file(source, tree, f"{target_dir}/{soname}"))
            assembly.provided_by[f"/{target_dir}/{soname}"] = package
            added += 1
    return added


def check_loaders(tree: Path) -> None:
    for path in elf_files(tree):
        interpreter = read_elf(path).interpreter
        if interpreter and not resolve_in_root(tree, interpreter).is_file():
            raise BackendError(f"/{path.relative_to(tree)}: its loader {interpreter} is missing from the rootfs")
