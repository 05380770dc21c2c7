"""Files read through the engine's archive API as a stream (rootfs_ci.smoke.checks): a stat or a
read stops at the entry it needs, so a check on a large directory does not transfer all of it."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator

import pytest

from rootfs_ci.smoke.checks import FileProblem, read_member, stat_member, tar_stream

CHUNK = 64 * 1024


def directory_archive() -> bytes:
    """What the engine sends for /usr: the directory's own entry first, then 4 MiB under it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        usr = tarfile.TarInfo("usr")
        usr.type, usr.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(usr)
        big = tarfile.TarInfo("usr/big")
        big.size = 4 * 1024 * 1024
        tar.addfile(big, io.BytesIO(bytes(big.size)))
    return buffer.getvalue()


class Counted:
    """The archive in CHUNK-sized pieces, counting how many were taken."""

    def __init__(self, data: bytes) -> None:
        self.pieces = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
        self.taken = 0

    def __iter__(self) -> Iterator[bytes]:
        for piece in self.pieces:
            self.taken += 1
            yield piece


def one_entry(name: str, kind: bytes, content: bytes = b"", link: str = "") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        member = tarfile.TarInfo(name)
        member.type, member.linkname, member.size = kind, link, len(content)
        tar.addfile(member, io.BytesIO(content) if content else None)
    return buffer.getvalue()


def test_a_stat_of_a_directory_reads_its_first_entry_only() -> None:
    chunks = Counted(directory_archive())
    member = stat_member(tar_stream(iter(chunks)), "/usr")
    assert member.isdir() and member.name == "usr"
    assert len(chunks.pieces) > 60  # 4 MiB were there to read
    assert chunks.taken <= 2


def test_reading_a_directory_fails_at_its_first_entry() -> None:
    chunks = Counted(directory_archive())
    with pytest.raises(FileProblem, match="is a directory"):
        read_member(tar_stream(iter(chunks)), "/usr")
    assert chunks.taken <= 2


def test_a_file_is_read_and_a_symlink_names_its_target() -> None:
    archive = one_entry("shadow", tarfile.REGTYPE, b"root:*:19000::::::\n")
    assert read_member(tar_stream(iter([archive])), "/etc/shadow") == b"root:*:19000::::::\n"
    link = one_entry("S50apache", tarfile.SYMTYPE, link="/usr/bin/apachectl")
    assert read_member(tar_stream(iter([link])), "/etc/init.d/S50apache") == "/usr/bin/apachectl"
    assert stat_member(tar_stream(iter([link])), "/etc/init.d/S50apache").issym()


def test_a_path_missing_from_the_archive_is_a_file_problem() -> None:
    archive = one_entry("other", tarfile.REGTYPE, b"x")
    with pytest.raises(FileProblem, match="not found"):
        stat_member(tar_stream(iter([archive])), "/etc/shadow")
