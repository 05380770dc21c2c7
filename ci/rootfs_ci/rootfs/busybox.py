"""Busybox applet links: one symlink per applet, unless another program already has that name."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from rootfs_ci.errors import ConfigError
from rootfs_ci.fsutil import rootfs_path
from rootfs_ci.rootfs.target import run_target

BIN_DIRS = ("bin", "sbin", "usr/bin", "usr/sbin")


def link_busybox_applets(tree: Path, arch: str, only: Sequence[str] = ()) -> int:
    """Symlink each applet busybox offers (or only those named), unless another program has that name."""
    if not (tree / "bin/busybox").is_file():
        raise ConfigError("debian.busybox_links needs /bin/busybox: add busybox to packages and files")
    taken = {
        entry.name for directory in BIN_DIRS if (tree / directory).is_dir() for entry in (tree / directory).iterdir()
    }
    offered = [rootfs_path(line) for line in run_target(tree, arch, "/bin/busybox", ["--list-full"]).split()]
    unknown = sorted(set(only) - {applet.name for applet in offered})
    if unknown:
        raise ConfigError(f"debian.busybox_applets: this busybox has no applet {', '.join(unknown)}; remove it")
    linked = 0
    for applet in offered:
        if applet.name in taken or applet.as_posix() == "bin/busybox" or (only and applet.name not in only):
            continue
        link = tree / applet
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(tree / "bin/busybox", link.parent))
        taken.add(applet.name)
        linked += 1
    return linked
