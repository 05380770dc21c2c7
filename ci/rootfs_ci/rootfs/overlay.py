"""Copy overlay trees onto a rootfs the way Buildroot's rsync does, without ever leaving the rootfs.

Like ``rsync -a --keep-dirlinks``: a directory in the overlay merges into whatever the rootfs has
there, following a symlinked directory (``var/run -> ../run``); links are resolved as inside a
chroot, so no overlay entry can write outside the tree. ``.empty`` markers and VCS dirs are skipped.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from rootfs_ci.errors import BackendError
from rootfs_ci.fsutil import resolve_in_root

SKIPPED = {".empty", ".git", ".svn", ".hg", ".gitignore", ".gitkeep"}


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def apply_overlay(overlay: Path, tree: Path) -> int:
    """Copy ``overlay`` into ``tree``; return the number of entries copied."""
    copied = 0
    for dirpath, dirnames, filenames in os.walk(overlay):
        dirnames[:] = sorted(name for name in dirnames if name not in SKIPPED)
        relative_dir = Path(dirpath).relative_to(overlay)
        for name in sorted(dirnames + filenames):
            if name in SKIPPED or name.endswith("~"):
                continue
            source = Path(dirpath) / name
            relative = (relative_dir / name).as_posix()
            try:
                _copy_entry(source, relative, tree, overlay)
            except OSError as exc:  # e.g. a path longer than the file system allows under the staging dir
                raise BackendError(
                    f"overlay {overlay}: {relative[:80]}{'...' if len(relative) > 80 else ''} cannot be copied "
                    f"({exc.strerror}); shorten or remove it"
                ) from None
            copied += 1
    return copied


def _copy_entry(source: Path, relative: str, tree: Path, overlay: Path) -> None:
    mode = source.lstat().st_mode
    if stat.S_ISLNK(mode):
        destination = resolve_in_root(tree, relative, follow_last=False)
        _remove(destination)
        destination.symlink_to(os.readlink(source))
    elif stat.S_ISDIR(mode):
        destination = resolve_in_root(tree, relative)
        if destination.exists() and not destination.is_dir():
            raise BackendError(f"overlay {overlay}: {relative} is a directory but the rootfs has a file there")
        destination.mkdir(parents=True, exist_ok=True)
    elif stat.S_ISREG(mode):
        destination = resolve_in_root(tree, relative, follow_last=False)
        if destination.is_dir() and not destination.is_symlink():
            raise BackendError(f"overlay {overlay}: {relative} is a file but the rootfs has a directory there")
        _remove(destination)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
        destination.chmod(stat.S_IMODE(mode))
    else:
        raise BackendError(f"overlay {overlay}: {relative} is a device, socket or FIFO; remove it")
