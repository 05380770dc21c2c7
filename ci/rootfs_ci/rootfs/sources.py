"""The debian backend's package sources for one image: invoke.yaml first, then the environment.

Precedence for the mirror (and the snapshot mirror): ``images.NAME.debian.sources`` >
``rootfs_ci.debian_sources`` > ``$ROOTFS_CI_DEBIAN_MIRROR`` (``$ROOTFS_CI_DEBIAN_SNAPSHOT_MIRROR``).
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
SNAPSHOT_MIRROR_ENV = "ROOTFS_CI_DEBIAN_SNAPSHOT_MIRROR"


def _from_env(variable: str) -> str:
    value = os.environ.get(variable, "").strip()
    if value and not MIRROR_URL.fullmatch(value):
        raise ConfigError(f"{variable}={value!r} is not an http(s) URL; set it to e.g. http://HOST/debian")
    return value.rstrip("/")


@dataclass(frozen=True)
class Sources:
    image: str
    suite: str
    components: tuple[str, ...]
    mirror: str  # "" when neither invoke.yaml nor the environment names one
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

    def snapshot_url(self, snapshot: str) -> str | None:
        """The snapshot archive at ``snapshot``, if a snapshot mirror is known."""
        return f"{self.snapshot_mirror}/{snapshot}" if snapshot and self.snapshot_mirror else None

    def index_url(self) -> str:
        """Where the index is resolved: the snapshot when one is configured, else the mirror."""
        if not self.snapshot:
            return self.mirror_url()
        url = self.snapshot_url(self.snapshot)
        if url is None:
            raise ConfigError(
                f"image {self.image} resolves from snapshot {self.snapshot} but no snapshot mirror is known: set "
                f"{NAMESPACE}.debian_sources.snapshot_mirror in invoke.yaml or {SNAPSHOT_MIRROR_ENV}"
            )
        return url


def image_sources(settings: Settings, name: str, image: ImageConfig) -> Sources:
    config = settings.debian_sources(image)
    keyring = Path(config.keyring)
    return Sources(
        image=name,
        suite=config.suite,
        components=config.components,
        mirror=config.mirror.rstrip("/") or _from_env(MIRROR_ENV),
        snapshot=config.snapshot,
        snapshot_mirror=config.snapshot_mirror.rstrip("/") or _from_env(SNAPSHOT_MIRROR_ENV),
        keyring=keyring if keyring.is_absolute() else settings.project_dir / keyring,
    )
