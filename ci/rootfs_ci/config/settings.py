"""The validated configuration plus where it lives: what every task works from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rootfs_ci.config.keys import CONFIG_FILE, NAMESPACE
from rootfs_ci.config.models import DebianSources, ImageConfig, RootfsCiConfig
from rootfs_ci.errors import ConfigError


@dataclass(frozen=True)
class Settings:
    """The validated configuration plus where it lives."""

    project_dir: Path
    config: RootfsCiConfig
    source_date_epoch: int

    @property
    def dist_dir(self) -> Path:
        return self.project_dir / self.config.dist_dir

    @property
    def cache_dir(self) -> Path:
        return self.project_dir / self.config.cache_dir

    @property
    def lock_path(self) -> Path:
        return self.project_dir / self.config.lock_file

    def debian_sources(self, image: ImageConfig) -> DebianSources:
        """rootfs_ci.debian_sources with the image's own debian.sources keys on top."""
        override = {key: value for key, value in image.debian.sources if value is not None}
        return self.config.debian_sources.model_copy(update=override)

    @property
    def default_image(self) -> str:
        """``default_image``, else the first declared image."""
        if self.config.default_image:
            return self.config.default_image
        if not self.config.images:
            raise ConfigError(
                f"{CONFIG_FILE} declares no images; add one under {NAMESPACE}.images (rootfs-ci init writes a starter)"
            )
        return next(iter(self.config.images))

    def smoke_spec(self, name: str) -> Path:
        """Where the smoke spec of image ``name`` lives."""
        configured = self.config.images[name].smoke_spec if name in self.config.images else ""
        return self.project_dir / (configured or f"tests/smoke/{name}.yaml")

    def image(self, name: str | None) -> tuple[str, ImageConfig]:
        name = name or self.default_image
        try:
            return name, self.config.images[name]
        except KeyError:
            known = ", ".join(sorted(self.config.images)) or "none"
            raise ConfigError(
                f"unknown image {name!r}; {CONFIG_FILE} declares: {known} (add it under {NAMESPACE}.images)"
            ) from None

    def arch(self, image: ImageConfig, arch: str | None) -> str:
        if arch is None:
            return image.platforms[0]
        if arch not in image.platforms:
            raise ConfigError(
                f"architecture {arch!r} is not in this image's platforms {list(image.platforms)}; "
                f"add it to {NAMESPACE}.images.<name>.platforms"
            )
        return arch

    def local_reference(self, name: str, arch: str, tag: str | None = None) -> str:
        """The engine's tag of NAME for ARCH: 'dev' -> 'NAME:dev' for the image's first platform,
        'NAME:dev-aarch64' for the others (one local tag holds one platform); a full reference
        ('apacheinit:v01', 'reg/x:1') is kept as given. TAG defaults to ``local_tag``."""
        tag = tag or self.config.local_tag
        if ":" in tag or "/" in tag:
            return tag
        return f"{name}:{tag}" if arch == self.config.images[name].platforms[0] else f"{name}:{tag}-{arch}"
