"""Lock policy, as Cargo does it: a build uses the lock's section for its image x arch; with none it
resolves one and writes it (``--locked`` forbids that); a section that no longer matches invoke.yaml
is refused. ``invoke lock`` writes missing or stale sections; ``--update`` re-resolves them all."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rootfs_ci.arch import architecture
from rootfs_ci.config import ImageConfig, Settings
from rootfs_ci.errors import ConfigError
from rootfs_ci.fsutil import shown
from rootfs_ci.progress import Progress
from rootfs_ci.rootfs.lockfile import LockedDeb, LockSection, read_lock, section_key, write_lock


@dataclass(frozen=True)
class Target:
    """One image x architecture, built with one backend."""

    name: str
    image: ImageConfig
    arch: str
    backend: str

    @property
    def key(self) -> str:
        return section_key(self.name, self.arch, self.backend)


def lock_targets(settings: Settings, names: list[str]) -> list[Target]:
    """What ``invoke lock`` pins for these images: per architecture, the debian packages (when the
    image names any) and the Buildroot pin, so either backend (ci.yml may pick one) builds --locked."""
    targets = []
    for name in names:
        image = settings.config.images[name]
        backends = ("debian", "buildroot") if image.debian.packages else ("buildroot",)
        targets += [Target(name, image, arch, backend) for arch in image.platforms for backend in backends]
    return targets


def expected_inputs(settings: Settings, target: Target) -> dict[str, Any]:
    """What a section must have been resolved from to serve this build (mirrors are transport only)."""
    if target.backend == "buildroot":
        return {"buildroot": settings.config.buildroot.version, "commit": settings.config.buildroot.commit}
    sources = settings.debian_sources(target.image)
    return {
        "packages": sorted(target.image.debian.packages),
        "suites": list(sources.suites),
        "security_suite": sources.security_suite,
        "components": list(sources.components),
        "snapshot": sources.snapshot,
    }


def resolve_section(settings: Settings, target: Target) -> LockSection:
    """Resolve ``target`` afresh: the newest version of each package in the configured index."""
    inputs = expected_inputs(settings, target)
    if target.backend == "buildroot":
        return LockSection("buildroot", inputs)
    from rootfs_ci.rootfs.index import newest_candidates  # noqa: PLC0415 (python-debian: only when resolving)
    from rootfs_ci.rootfs.sources import image_sources  # noqa: PLC0415

    sources = image_sources(settings, target.name, target.image)
    gap = sources.security_gap()
    if gap is not None:
        _warn_once(gap)
    deb_arch = architecture(target.arch).debian
    candidates = newest_candidates(sources, target.image.debian.packages, deb_arch, settings.cache_dir)
    packages = tuple(
        LockedDeb(c.name, c.version, c.arch, c.size, c.sha256, c.filename, c.suite,
                  sources.snapshot if c.suite != sources.security_suite else "")
        for c in candidates
    )  # fmt: skip
    return LockSection("debian", inputs, packages)


@functools.cache
def _warn_once(message: str) -> None:
    """One line per process, however many images and architectures share the gap."""
    print(f"rootfs-ci: warning: {message}", file=sys.stderr)


@contextlib.contextmanager
def lock_file_held(settings: Settings) -> Iterator[None]:
    """One writer of the lock file at a time (parallel builds of one project share its cache)."""
    guard = settings.cache_dir / "lockfile.flock"
    guard.parent.mkdir(parents=True, exist_ok=True)
    with guard.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def stale_reason(settings: Settings, target: Target, section: LockSection) -> str | None:
    expected = expected_inputs(settings, target)
    if section.backend != target.backend:
        return f"backend {section.backend} -> {target.backend}"
    changed = [key for key in sorted({*expected, *section.inputs}) if expected.get(key) != section.inputs.get(key)]
    return ", ".join(changed) if changed else None


def locked_section(settings: Settings, target: Target, *, locked: bool) -> tuple[LockSection, bool]:
    """The section this build must use, and whether it was resolved just now (the build then writes
    it with record_section once it has succeeded: a failed build leaves the lock file alone)."""
    lock_path = settings.lock_path
    section = read_lock(lock_path).get(target.key)
    if section is None:
        if locked:
            raise ConfigError(
                f"{shown(lock_path)} has no entry for {target.key} and --locked forbids writing one; "
                "run invoke lock and commit the lock file"
            )
        return resolve_section(settings, target), True
    reason = stale_reason(settings, target, section)
    if reason is not None:
        raise ConfigError(
            f"{shown(lock_path)}: {target.key} no longer matches invoke.yaml ({reason} changed); "
            "run invoke lock --update"
        )
    return section, False


def record_section(settings: Settings, target: Target, section: LockSection, progress: Progress) -> None:
    """Add a newly resolved section to the lock file, unless a parallel build added one first."""
    with lock_file_held(settings):
        sections = read_lock(settings.lock_path)
        if target.key not in sections:
            write_lock(settings.lock_path, {**sections, target.key: section})
            progress.step(f"locked {target.key} in {shown(settings.lock_path)}: commit it")


Changed = dict[str, tuple[LockSection | None, LockSection]]


def update_lock(settings: Settings, targets: list[Target], *, update: bool) -> Changed:
    """Write the sections of ``targets`` that are missing or stale (all of them with ``update``);
    return key -> (old, new) for each section written."""
    written: Changed = {}
    with lock_file_held(settings):
        sections = read_lock(settings.lock_path)
        for target in targets:
            old = sections.get(target.key)
            if update or old is None or stale_reason(settings, target, old) is not None:
                new = resolve_section(settings, target)
                if new != old:
                    written[target.key] = (old, new)
                sections[target.key] = new
        if written or not settings.lock_path.exists():
            write_lock(settings.lock_path, sections)
    return written
