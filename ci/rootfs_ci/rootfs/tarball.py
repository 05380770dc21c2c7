"""Write a staging tree as a reproducible rootfs tar.

Sorted entries, every mtime set to SOURCE_DATE_EPOCH, numeric owner 0:0, no pax atime/ctime,
modes normalised as Buildroot's overlay copy does (u=rwX,go=rX) unless a permission rule says
otherwise. Device nodes, sockets and FIFOs are refused: the engine creates /dev itself.
"""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from rootfs_ci.errors import BackendError, UnsafeArchiveError
from rootfs_ci.fsutil import atomic_output

# Buildroot's skeleton modes that differ from the u=rwX,go=rX default.
DEFAULT_PERMISSIONS: Mapping[str, int] = {
    "etc/shadow": 0o600,
    "tmp": 0o1777,
    "var/tmp": 0o1777,
    "root": 0o700,
}


def _walk(root: Path) -> Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        relative_dir = os.path.relpath(dirpath, root)
        for name in sorted(dirnames + filenames):
            yield name if relative_dir == "." else f"{relative_dir}/{name}"


def _normal_mode(mode: int) -> int:
    if stat.S_ISDIR(mode) or mode & 0o111:
        return 0o755
    return 0o644


BLOCK = 512


def check_size(staging: Path, max_bytes: int, setting: str) -> None:
    """Refuse, before a byte is written, a tree whose tar would exceed ``max_bytes`` (sparse files
    count with their full length, as tar stores them)."""
    total, largest = 2 * BLOCK, (0, "", 0)
    for relative in _walk(staging):
        status = (staging / relative).lstat()
        size = status.st_size if stat.S_ISREG(status.st_mode) else 0
        total += BLOCK + -(-size // BLOCK) * BLOCK
        if size > largest[0]:
            largest = (size, relative, status.st_blocks * 512)
    if total > max_bytes:
        size, relative, on_disk = largest
        sparse = f", sparse: {on_disk} on disk" if on_disk < size else ""
        raise BackendError(
            f"the rootfs tar would be at least {total} bytes, over {setting} ({max_bytes}); the largest file is "
            f"/{relative} ({size} bytes{sparse}): remove it or raise {setting}"
        )


def write_rootfs_tar(staging: Path, output: Path, epoch: int, permissions: Mapping[str, int]) -> int:
    """Write ``staging`` to ``output`` atomically; return the tar's size in bytes."""
    rules = {**DEFAULT_PERMISSIONS, **{path.strip("/"): mode for path, mode in permissions.items()}}
    with atomic_output(output) as tmp, tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for relative in sorted(_walk(staging)):
            host_path = staging / relative
            info = tarfile.TarInfo(relative)
            status = host_path.lstat()
            info.mtime = epoch
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if stat.S_ISLNK(status.st_mode):
                info.type = tarfile.SYMTYPE
                info.linkname = os.readlink(host_path)
                info.mode = 0o777
                tar.addfile(info)
                continue
            info.mode = rules.get(relative, _normal_mode(status.st_mode))
            if stat.S_ISDIR(status.st_mode):
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif stat.S_ISREG(status.st_mode):
                info.size = status.st_size
                with host_path.open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                raise UnsafeArchiveError(
                    f"{relative}: device nodes, sockets and FIFOs do not belong in a rootfs tar; remove it"
                )
    return output.stat().st_size
