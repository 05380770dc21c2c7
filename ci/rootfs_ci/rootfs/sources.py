"""The debian backend's package sources for one image: invoke.yaml first, then the environment.

Like a stock Debian install, an image resolves several suites: ``suites`` (default bookworm and
bookworm-updates) on the mirror and ``security_suite`` (bookworm-security) on the security archive,
a separate archive with its own URL. The newest version of a package across them wins.

Precedence for each mirror: ``images.NAME.debian.sources`` > ``rootfs_ci.debian_sources`` >
``$ROOTFS_CI_DEBIAN_MIRROR`` (``$ROOTFS_CI_DEBIAN_SECURITY_MIRROR``, ``$ROOTFS_CI_DEBIAN_SNAPSHOT_MIRROR``).
A mirror is transport only -- the lock's sha256s decide what goes in -- so the environment may
supply it; a mirror written in invoke.yaml is the project's choice and is not overridden.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rootfs_ci.config import NAMESPACE, ImageConfig, Settings
from rootfs_ci.config.names import MIRROR_URL
from rootfs_ci.errors import ConfigError

MIRROR_ENV = "ROOTFS_CI_DEBIAN_MIRROR"
SECURITY_MIRROR_ENV = "ROOTFS_CI_DEBIAN_SECURITY_MIRROR"
SNAPSHOT_MIRROR_ENV = "ROOTFS_CI_DEBIAN_SNAPSHOT_MIRROR"


def _from_env(variable: str) -> str:
    value = os.environ.get(variable, "").strip()
    if value and not MIRROR_URL.fullmatch(value):
        raise ConfigError(f"{variable}={value!r} is not an http(s) URL; set it to e.g. http://HOST/debian")
    return value.rstrip("/")


@dataclass(frozen=True)
class Sources:
    image: str
    suites: tuple[str, ...]
    components: tuple[str, ...]
    mirror: str  # "" when neither invoke.yaml nor the environment names one
    security_suite: str  # "" when the project resolves no security suite
    security_mirror: str
    snapshot: str
    snapshot_mirror: str
    keyring: Path

    def mirror_url(self) -> str:
        if not self.mirror:
            raise ConfigError(
                f"no Debian mirror for image {self.image}: set {NAMESPACE}.debian_sources.mirror in invoke.yaml "
                f"or {MIRROR_ENV}"
            )
        return self.mirror

    def mirror_for(self, suite: str) -> str:
        """The archive a package of ``suite`` is fetched from: the security archive for its suite."""
        if suite != self.security_suite:
            return self.mirror_url()
        if not self.security_mirror:
            raise ConfigError(
                f"no Debian security mirror for image {self.image} (its lock has {suite} packages): set "
                f"{NAMESPACE}.debian_sources.security_mirror in invoke.yaml or {SECURITY_MIRROR_ENV}"
            )
        return self.security_mirror

    def snapshot_url(self, snapshot: str) -> str | None:
        """The snapshot archive at ``snapshot``, if a snapshot mirror is known."""
        return f"{self.snapshot_mirror}/{snapshot}" if snapshot and self.snapshot_mirror else None

    def index_url(self) -> str:
        """Where the suites are resolved: the snapshot when one is configured, else the mirror."""
        if not self.snapshot:
            return self.mirror_url()
        url = self.snapshot_url(self.snapshot)
        if url is None:
            raise ConfigError(
                f"image {self.image} resolves from snapshot {self.snapshot} but no snapshot mirror is known: set "
                f"{NAMESPACE}.debian_sources.snapshot_mirror in invoke.yaml or {SNAPSHOT_MIRROR_ENV}"
            )
        return url

    def indexes(self) -> list[tuple[str, str]]:
        """(archive URL, suite) of every index resolved, in order; the security suite only when its
        archive is known (see security_gap)."""
        listed = [(self.index_url(), suite) for suite in self.suites]
        if self.security_suite and self.security_mirror and not self.snapshot:
            listed.append((self.security_mirror, self.security_suite))
        return listed

    def security_gap(self) -> str | None:
        """Why the security suite is not resolved, as a warning, or None when it is (or none is wanted)."""
        if not self.security_suite:
            return None
        if self.snapshot:
            return (
                f"security updates are not included: image {self.image} resolves from snapshot {self.snapshot}, "
                f"which holds the main archive, not {self.security_suite}"
            )
        if not self.security_mirror:
            return (
                f"security updates are not included: no mirror for {self.security_suite}; set "
                f"{NAMESPACE}.debian_sources.security_mirror in invoke.yaml or {SECURITY_MIRROR_ENV} "
                "(security_suite: '' silences this)"
            )
        return None


def image_sources(settings: Settings, name: str, image: ImageConfig) -> Sources:
    config = settings.debian_sources(image)
    keyring = Path(config.keyring)
    return Sources(
        image=name,
        suites=config.suites,
        components=config.components,
        mirror=config.mirror.rstrip("/") or _from_env(MIRROR_ENV),
        security_suite=config.security_suite,
        security_mirror=config.security_mirror.rstrip("/") or _from_env(SECURITY_MIRROR_ENV),
        snapshot=config.snapshot,
        snapshot_mirror=config.snapshot_mirror.rstrip("/") or _from_env(SNAPSHOT_MIRROR_ENV),
        keyring=keyring if keyring.is_absolute() else settings.project_dir / keyring,
    )
