"""The rootfs tar is normalised: same tree, same bytes, whatever the checkout's times and umask."""

from __future__ import annotations

import hashlib
import os
import tarfile
from pathlib import Path

import pytest

from rootfs_ci.errors import UnsafeArchiveError
from rootfs_ci.rootfs.tarball import write_rootfs_tar


def make_tree(root: Path, mtime: int) -> None:
    (root / "etc").mkdir(parents=True)
    (root / "tmp").mkdir()
    (root / "bin").mkdir()
    (root / "etc/shadow").write_text("root:*:::::::\n")
    (root / "etc/motd").write_text("hi\n")
    (root / "bin/tool").write_text("#!/bin/sh\n")
    (root / "bin/tool").chmod(0o700)
    (root / "etc/motd").chmod(0o666)
    os.symlink("tool", root / "bin/alias")
    for path in [*root.rglob("*"), root]:
        os.utime(path, (mtime, mtime), follow_symlinks=False)


def test_same_tree_same_bytes_and_normal_metadata(tmp_path: Path) -> None:
    make_tree(tmp_path / "a", 1_000_000)
    make_tree(tmp_path / "b", 2_000_000)
    write_rootfs_tar(tmp_path / "a", tmp_path / "a.tar", 1234, {})
    write_rootfs_tar(tmp_path / "b", tmp_path / "b.tar", 1234, {})
    digest = [hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() for name in ("a.tar", "b.tar")]
    assert digest[0] == digest[1]
    with tarfile.open(tmp_path / "a.tar") as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert list(members) == sorted(members)
        assert {m.mtime for m in members.values()} == {1234}
        assert {(m.uid, m.gid, m.uname, m.gname) for m in members.values()} == {(0, 0, "", "")}
        assert members["etc/shadow"].mode == 0o600
        assert members["tmp"].mode == 0o1777
        assert members["etc/motd"].mode == 0o644
        assert members["bin/tool"].mode == 0o755
        assert members["bin/alias"].issym() and members["bin/alias"].linkname == "tool"
        assert not any("atime" in m.pax_headers or "ctime" in m.pax_headers for m in members.values())


def test_permission_rules_override_modes(tmp_path: Path) -> None:
    make_tree(tmp_path / "a", 0)
    write_rootfs_tar(tmp_path / "a", tmp_path / "a.tar", 0, {"/etc/motd": 0o600})
    with tarfile.open(tmp_path / "a.tar") as tar:
        assert tar.getmember("etc/motd").mode == 0o600


def test_fifos_are_refused_and_no_partial_tar_is_left(tmp_path: Path) -> None:
    make_tree(tmp_path / "a", 0)
    os.mkfifo(tmp_path / "a/etc/pipe")
    with pytest.raises(UnsafeArchiveError, match="etc/pipe"):
        write_rootfs_tar(tmp_path / "a", tmp_path / "out/a.tar", 0, {})
    assert list((tmp_path / "out").iterdir()) == []
