"""An image's file tree, read by streaming its layers: no extraction, every file hashed on the way.

Each layer is a tar (gzip-compressed or not); layers apply in order, with the OCI whiteouts
(``.wh.NAME`` removes NAME, ``.wh..wh..opq`` empties its directory). The uncompressed bytes are
counted and hashed, so the rootfs size is exact and each layer is checked against its diff_id.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import posixpath
import tarfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO

from rootfs_ci.diff.model import Entry
from rootfs_ci.errors import ImageError

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
CHUNK = 1 << 20
_KINDS = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.CONTTYPE: "file",
    tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hardlink",
    tarfile.CHRTYPE: "char",
    tarfile.BLKTYPE: "block",
    tarfile.FIFOTYPE: "fifo",
}


@dataclass(frozen=True)
class LayerStream:
    """One layer: its diff_id (from the image config) and how to open its bytes as stored."""

    diff_id: str
    open: Callable[[], IO[bytes]]  # seekable


class _Counting(io.RawIOBase):
    """Reads through ``source``, counting and hashing the bytes (the uncompressed layer)."""

    def __init__(self, source: IO[bytes] | gzip.GzipFile) -> None:
        self.source = source
        self.size = 0
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.source.read(len(buffer))
        buffer[: len(data)] = data
        self.size += len(data)
        self.sha256.update(data)
        return len(data)

    def drain(self) -> None:
        """Read what the tar reader left (the end-of-archive blocks), so size and hash cover the whole layer."""
        while self.read(CHUNK):
            pass


def _uncompressed(raw: IO[bytes]) -> IO[bytes] | gzip.GzipFile:
    """The layer's tar stream, gunzipped when it starts with gzip's magic (``raw`` is seekable)."""
    magic = raw.read(2)
    raw.seek(0)
    return gzip.GzipFile(fileobj=raw, mode="rb") if magic == b"\x1f\x8b" else raw


def _normal(name: str) -> str:
    return "/" + posixpath.normpath("/" + name).lstrip("/")


def _entry(member: tarfile.TarInfo, tar: tarfile.TarFile) -> Entry:
    path = _normal(member.name)
    kind = _KINDS.get(member.type, "other")
    digest = ""
    if kind == "file":
        handle = tar.extractfile(member)
        hasher = hashlib.sha256()
        if handle is not None:
            for chunk in iter(lambda: handle.read(CHUNK), b""):
                hasher.update(chunk)
        digest = "sha256:" + hasher.hexdigest()
    link = _normal(member.linkname) if kind == "hardlink" else member.linkname if kind == "symlink" else ""
    size = member.size if kind == "file" else 0
    return Entry(path, kind, size, member.mode & 0o7777, member.uid, member.gid, link, digest)


def _whiteout(tree: dict[str, Entry], path: str) -> bool:
    """Apply ``path`` if it is a whiteout; True when it was one."""
    directory, name = posixpath.split(path)
    if name == OPAQUE:
        prefix = directory.rstrip("/") + "/"
        for known in [known for known in tree if known.startswith(prefix)]:
            del tree[known]
        return True
    if name.startswith(WHITEOUT):
        gone = posixpath.join(directory, name.removeprefix(WHITEOUT))
        for known in [known for known in tree if known == gone or known.startswith(gone + "/")]:
            del tree[known]
        return True
    return False


def _apply(tree: dict[str, Entry], layer: LayerStream, label: str) -> int:
    """Add one layer's entries to ``tree``; returns its uncompressed size."""
    try:
        with layer.open() as raw:
            counting = _Counting(_uncompressed(raw))
            # Buffered: tarfile reads a record (10 KiB) at a time, the counter then sees 1 MiB reads.
            with tarfile.open(fileobj=io.BufferedReader(counting, CHUNK), mode="r|") as tar:
                for member in tar:
                    path = _normal(member.name)
                    if not _whiteout(tree, path):
                        tree[path] = _entry(member, tar)
            counting.drain()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise ImageError(f"{label}: layer {layer.diff_id[:19]}... is not a readable tar ({exc})") from None
    found = "sha256:" + counting.sha256.hexdigest()
    if found != layer.diff_id:
        raise ImageError(f"{label}: a layer unpacks to {found}, not its diff_id {layer.diff_id}; the image is corrupt")
    return counting.size


def read_tree(layers: Sequence[LayerStream], label: str) -> tuple[dict[str, Entry], int]:
    """(path -> entry, uncompressed rootfs bytes) of the image whose layers are ``layers``."""
    tree: dict[str, Entry] = {}
    size = sum(_apply(tree, layer, label) for layer in layers)
    tree.pop("/", None)
    return tree, size
