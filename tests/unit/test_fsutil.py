"""Nothing read from a package or an overlay can write outside its root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rootfs_ci.errors import BackendError, UnsafeArchiveError
from rootfs_ci.fsutil import resolve_in_root, rootfs_path
from rootfs_ci.rootfs.overlay import apply_overlay


def test_rootfs_path_refuses_dotdot() -> None:
    assert rootfs_path("/usr/bin/x").as_posix() == "usr/bin/x"
    with pytest.raises(UnsafeArchiveError):
        rootfs_path("usr/../../etc/passwd")


def test_links_resolve_as_in_a_chroot(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "run").mkdir(parents=True)
    (root / "var").mkdir()
    os.symlink("../run", root / "var/run")
    os.symlink("/", root / "escape")
    os.symlink("../../../../..", root / "up")
    os.symlink("/etc", root / "cfg")
    assert resolve_in_root(root, "var/run/x.pid") == root / "run/x.pid"
    assert resolve_in_root(root, "escape/etc/passwd") == root / "etc/passwd"
    assert resolve_in_root(root, "up/tmp") == root / "tmp"
    assert resolve_in_root(root, "cfg", follow_last=False) == root / "cfg"
    assert resolve_in_root(root, "cfg/hosts") == root / "etc/hosts"


def test_symlink_loops_are_refused(tmp_path: Path) -> None:
    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    with pytest.raises(UnsafeArchiveError, match="too many symlink hops"):
        resolve_in_root(tmp_path, "a/x")


def test_overlay_cannot_write_through_a_hostile_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    tree = tmp_path / "tree"
    tree.mkdir()
    os.symlink(str(outside), tree / "etc")  # a link in the tree pointing at the host
    overlay = tmp_path / "overlay"
    (overlay / "etc").mkdir(parents=True)
    (overlay / "etc/passwd").write_text("pwned\n")
    apply_overlay(overlay, tree)
    assert list(outside.iterdir()) == []
    assert (tree / str(outside).lstrip("/") / "passwd").read_text() == "pwned\n"


def test_overlay_merges_into_symlinked_dirs_and_keeps_links(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "run").mkdir(parents=True)
    (tree / "var").mkdir()
    os.symlink("../run", tree / "var/run")
    overlay = tmp_path / "overlay"
    (overlay / "var/run").mkdir(parents=True)
    (overlay / "var/run/marker").write_text("x")
    (overlay / "bin").mkdir()
    (overlay / "bin/start.sh").write_text("#!/bin/sh\n")
    (overlay / "bin/start.sh").chmod(0o755)
    (overlay / "etc/init.d").mkdir(parents=True)
    os.symlink("/usr/bin/apachectl", overlay / "etc/init.d/S50apache")
    (overlay / "etc/.empty").write_text("")
    apply_overlay(overlay, tree)
    assert (tree / "run/marker").read_text() == "x"
    assert (tree / "var/run").is_symlink()
    assert os.access(tree / "bin/start.sh", os.X_OK)
    assert os.readlink(tree / "etc/init.d/S50apache") == "/usr/bin/apachectl"
    assert not (tree / "etc/.empty").exists()


def test_overlay_refuses_fifos(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    os.mkfifo(overlay / "pipe")
    with pytest.raises(BackendError, match="FIFO"):
        apply_overlay(overlay, tmp_path / "tree")
