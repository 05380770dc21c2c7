"""File-system helpers that never write outside a given root."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from rootfs_ci.errors import UnsafeArchiveError
from rootfs_ci.signals import signals_deferred

MAX_SYMLINK_HOPS = 40


def shown(path: Path, base: Path | None = None, *, outside: str | None = None) -> str:
    """``path`` as messages show it: relative to ``base`` (default: the working directory) when inside it,
    else ``outside`` if given, else the path as it is."""
    try:
        return path.relative_to(Path.cwd() if base is None else base).as_posix()
    except ValueError:
        return str(path) if outside is None else outside


def rootfs_path(path: str) -> PurePosixPath:
    """Normalise a rootfs path ('/usr/bin/x', 'usr/bin/x') to a relative path; refuse '..'."""
    parts = [part for part in PurePosixPath(path).parts if part not in ("/", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(f"path {path!r} climbs out of the rootfs with '..'; use a path inside it")
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def resolve_in_root(root: Path, path: str | PurePosixPath, *, follow_last: bool = True) -> Path:
    """Host path of ``path`` inside ``root``, resolving symlinks as a chroot would.

    Absolute link targets are taken relative to ``root`` and '..' stops at ``root``, so the
    result is always inside ``root`` whatever links the tree holds.
    """
    pending = list(rootfs_path(str(path)).parts) if str(path) not in ("", "/", ".") else []
    pending.reverse()
    resolved: list[str] = []
    hops = 0
    while pending:
        part = pending.pop()
        if part in ("", "."):
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root.joinpath(*resolved, part)
        if candidate.is_symlink() and (pending or follow_last):
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                raise UnsafeArchiveError(f"too many symlink hops resolving {path!r} in {root}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            pending.extend(reversed([p for p in target.split("/") if p]))
            continue
        resolved.append(part)
    return root.joinpath(*resolved)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_output(path: Path, mode: str = "wb") -> Iterator[Path]:
    """Yield a temp path beside ``path``; it replaces ``path`` only if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_atomic(path: Path, data: bytes) -> None:
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


@contextlib.contextmanager
def scratch_dir(parent: Path, prefix: str) -> Iterator[Path]:
    """A temp directory under ``parent``, removed whatever happens."""
    parent.mkdir(parents=True, exist_ok=True)
    path: Path | None = None
    try:
        with signals_deferred():  # an interrupt cannot fall between making the dir and owning its removal
            path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        yield path
    finally:
        if path is not None:
            with signals_deferred():
                _remove_tree(path)


def _remove_tree(path: Path) -> None:
    """rmtree, and again for a moment if the last writes of a killed tool still land."""
    for _ in range(20):
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            return
        time.sleep(0.05)


def tree_listing(root: Path, *, with_content: bool = True) -> Iterator[bytes]:
    """One sorted line per entry under ``root`` (a file: just it): kind, relative path, link target
    or content digest, exec bit. What cache keys are made of."""
    if root.is_file():
        yield b"F " + root.name.encode() + b" " + (sha256_file(root).encode() if with_content else b"")
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            relative = path.relative_to(root).as_posix().encode()
            if path.is_symlink():
                yield b"L " + relative + b" -> " + os.readlink(path).encode()
            elif path.is_file():
                digest = sha256_file(path).encode() if with_content else b""
                yield b"F " + relative + b" " + digest + (b" x" if os.access(path, os.X_OK) else b"")
            else:
                yield b"D " + relative
