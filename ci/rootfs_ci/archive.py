"""Safe extraction of archives we did not write (Debian packages, Buildroot's rootfs.tar).

Nothing in an archive can write outside the destination: no absolute or '..' member paths, no
writing through a link that leaves it, no hard link to a file outside it, no device nodes or
FIFOs, no setuid bits. Absolute symlinks are kept as links: a rootfs has them, and rootfs-ci only
ever resolves links inside the tree (rootfs_ci.fsutil.resolve_in_root).
"""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import IO

from rootfs_ci.errors import BackendError, UnsafeArchiveError


def _member_filter(member: tarfile.TarInfo, destination: str) -> tarfile.TarInfo | None:
    if member.ischr() or member.isblk() or member.isfifo():
        raise tarfile.SpecialFileError(member)
    filtered = tarfile.tar_filter(member, destination)
    if member.islnk():
        # A hard link may only name a file this archive already put inside the destination.
        root = Path(destination).resolve()
        target = (root / member.linkname.lstrip("/")).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            raise tarfile.LinkOutsideDestinationError(member, str(target))
    return filtered


def extract_tar(stream: IO[bytes], into: Path, label: str) -> None:
    """Extract the tar on ``stream`` (any compression tarfile reads) into ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as archive:
            archive.extractall(into, filter=_member_filter)  # noqa: S202 (filtered)
    except tarfile.FilterError as exc:
        raise UnsafeArchiveError(f"{label}: refused unsafe member ({exc}); the archive is not trustworthy") from None
    except (tarfile.TarError, EOFError, OSError, KeyError, RecursionError) as exc:
        raise BackendError(f"{label}: corrupt archive ({exc}); delete it and fetch or build it again") from None
