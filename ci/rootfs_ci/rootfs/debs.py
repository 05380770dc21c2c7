"""The locked .debs, each from the cache, else its suite's archive (the mirror or the security
archive), else the snapshot archive; every one checked against the lock's sha256 (a file that
differs is refused, never used)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from rootfs_ci.errors import BackendError
from rootfs_ci.fsutil import sha256_file
from rootfs_ci.progress import Progress
from rootfs_ci.rootfs.lockfile import LockedDeb
from rootfs_ci.rootfs.transport import Unavailable, download

if TYPE_CHECKING:  # sources reads the config, whose models import this module's users
    from rootfs_ci.rootfs.sources import Sources


@dataclass(frozen=True)
class DebPackage:
    name: str
    version: str
    arch: str
    sha256: str
    path: Path


def cached_path(cache_dir: Path, deb: LockedDeb) -> Path:
    """Where a locked .deb lives in the cache: by sha256, so two versions never collide."""
    return cache_dir / "debs" / deb.arch / f"{deb.sha256[:16]}_{PurePosixPath(deb.filename).name}"


def _urls(sources: Sources, deb: LockedDeb) -> list[str]:
    """Where to fetch ``deb`` from, in order: its suite's archive (if known), then the snapshot it
    came from. With neither, the line saying which mirror to set."""
    snapshot = sources.snapshot_url(deb.snapshot)
    if snapshot is None:
        return [f"{sources.mirror_for(deb.suite)}/{deb.filename}"]
    archive = sources.security_mirror if deb.suite == sources.security_suite else sources.mirror
    return [*([f"{archive}/{deb.filename}"] if archive else []), f"{snapshot}/{deb.filename}"]


def _fetch(sources: Sources, deb: LockedDeb, path: Path) -> None:
    urls = _urls(sources, deb)
    failures = []
    for url in urls:
        try:
            download(url, path, sha256=deb.sha256, size=deb.size)
            return
        except Unavailable as exc:
            failures.append(str(exc))
    raise BackendError(
        f"locked package {deb.name} {deb.version} ({deb.arch}) is in neither the cache nor the archive "
        f"({'; '.join(failures)}); run invoke lock --update to move to a version the archive has"
    )


def obtain(debs: Sequence[LockedDeb], sources: Sources, cache_dir: Path, progress: Progress) -> list[DebPackage]:
    """Every locked .deb as a checked file in the cache; nothing is written unless its sha256 matches."""
    paths = [cached_path(cache_dir, deb) for deb in debs]
    missing = [
        (deb, path) for deb, path in zip(debs, paths, strict=True)
        if not (path.is_file() and sha256_file(path) == deb.sha256)
    ]  # fmt: skip
    progress.step(f"{len(debs)} locked packages: {len(debs) - len(missing)} cached, {len(missing)} to fetch")
    for deb, path in missing:
        _fetch(sources, deb, path)
        progress.step(f"fetched {PurePosixPath(deb.filename).name} ({deb.size / 1e6:.2f} MB)")
    return [DebPackage(d.name, d.version, d.arch, d.sha256, path) for d, path in zip(debs, paths, strict=True)]
