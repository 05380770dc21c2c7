"""What CI jobs need from invoke.yaml: the image x architecture build matrix and the Buildroot cache key.

invoke.yaml is the single source of truth: the workflows ask ``invoke matrix`` which jobs to run and
``invoke ci-info`` where outputs go and what to cache, instead of repeating names, platforms or paths.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from rootfs_ci.arch import platform
from rootfs_ci.buildroot.dotconfig import values
from rootfs_ci.buildroot.external import load_external
from rootfs_ci.buildroot.source import Cache
from rootfs_ci.config import Settings
from rootfs_ci.errors import ConfigError
from rootfs_ci.fsutil import shown, tree_listing
from rootfs_ci.records import stage_dir
from rootfs_ci.rootfs.build import BACKENDS


@dataclass(frozen=True)
class Entry:
    image: str
    arch: str
    backend: str

    def as_dict(self) -> dict[str, str]:
        return {"image": self.image, "arch": self.arch, "platform": platform(self.arch), "backend": self.backend}


@dataclass(frozen=True)
class Matrix:
    entries: tuple[Entry, ...]
    skipped: tuple[str, ...]

    @property
    def images(self) -> list[str]:
        return list(dict.fromkeys(entry.image for entry in self.entries))

    def as_json(self) -> str:
        """GitHub's ``strategy.matrix`` form, on one line: {"include": [{"image": ..., "arch": ...}, ...]}."""
        return json.dumps({"include": [entry.as_dict() for entry in self.entries]}, separators=(",", ":"))


def defconfig_symbols(settings: Settings, name: str, arch: str) -> dict[str, str]:
    """The symbols the image's Buildroot defconfig for ``arch`` sets (BR2_x86_64=y, BR2_aarch64=y, ...)."""
    _, image = settings.image(name)
    external = load_external(settings.project_dir, settings.config.buildroot.external)
    return values(external.defconfig(name, image, arch).read_text(encoding="utf-8"))


def build_matrix(settings: Settings, backend: str | None = None) -> Matrix:
    """Every image of invoke.yaml times its platforms, in invoke.yaml's order.

    ``backend`` overrides each image's own. A Buildroot defconfig builds one architecture, so an
    (image, arch) whose defconfig does not select that architecture is left out and named in
    ``skipped`` (the build would refuse it).
    """
    if backend is not None and backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; use one of: {', '.join(BACKENDS)}")
    if not settings.config.images:
        raise ConfigError("invoke.yaml declares no images (rootfs_ci.images); there is nothing to build")
    entries: list[Entry] = []
    skipped: list[str] = []
    for name, image in settings.config.images.items():
        chosen = backend or image.backend
        for arch in image.platforms:
            try:
                symbols = defconfig_symbols(settings, name, arch) if chosen == "buildroot" else {}
            except ConfigError as exc:  # no defconfig for this architecture
                skipped.append(f"{name}/{arch}: {exc}")
                continue
            if chosen == "buildroot" and symbols.get(f"BR2_{arch}") != "y":
                skipped.append(f"{name}/{arch}: its Buildroot defconfig does not select BR2_{arch}")
                continue
            entries.append(Entry(name, arch, chosen))
    if not entries:
        raise ConfigError(f"no image and architecture can be built: {'; '.join(skipped)}")
    return Matrix(tuple(entries), tuple(skipped))


@dataclass(frozen=True)
class CacheKey:
    key: str
    restore_keys: tuple[str, ...]
    paths: tuple[str, ...]


def buildroot_cache_key(settings: Settings, name: str | None, arch: str | None) -> CacheKey:
    """Cache key for Buildroot's download dir, ccache and the pinned source of one image and architecture.

    The key changes with the pinned commit, the image's defconfig, the BR2_EXTERNAL tree and its
    overlays; the restore keys fall back to the newest cache of the same pin and architecture, so
    a changed defconfig still starts from warm downloads and compiler cache.
    """
    name, image = settings.image(name)
    arch = settings.arch(image, arch)
    pin = settings.config.buildroot
    external = load_external(settings.project_dir, pin.external)
    defconfig = external.defconfig(name, image, arch)
    digest = hashlib.sha256()
    trees = [("defconfig", defconfig), ("external", external.path)] + [
        (f"overlay {overlay}", settings.project_dir / overlay) for overlay in image.overlays
    ]
    for label, root in trees:
        digest.update(f"== {label}\n".encode())
        for line in tree_listing(root):
            digest.update(line + b"\n")
    prefix = f"rootfs-ci-buildroot-{pin.version}-{pin.commit[:12]}-{arch}-"
    cache = Cache(settings.cache_dir / "buildroot")
    paths = tuple(shown(path, settings.project_dir) for path in (cache.downloads, cache.ccache, cache.sources))
    return CacheKey(f"{prefix}{name}-{digest.hexdigest()[:16]}", (f"{prefix}{name}-", prefix), paths)


def job_info(settings: Settings, name: str | None, arch: str | None, backend: str | None) -> dict[str, str | list[str]]:
    """Step outputs for one build job: where its outputs go and, for Buildroot, what to cache.

    The cache values are empty for the debian backend (its .deb cache needs no CI cache).
    """
    name, image = settings.image(name)
    arch = settings.arch(image, arch)
    chosen = backend or image.backend
    if chosen not in BACKENDS:
        raise ConfigError(f"unknown backend {chosen!r}; use one of: {', '.join(BACKENDS)}")
    info: dict[str, str | list[str]] = {
        "dist": shown(stage_dir(settings.dist_dir, name, arch), settings.project_dir),
        "dist-root": shown(settings.dist_dir, settings.project_dir),
        "backend": chosen,
        "cache-key": "",
        "cache-restore-keys": "",
        "cache-paths": "",
        "buildroot-log": "",
    }
    if chosen == "buildroot":
        key = buildroot_cache_key(settings, name, arch)
        info["cache-key"] = key.key
        info["cache-restore-keys"] = list(key.restore_keys)
        info["cache-paths"] = list(key.paths)
        info["buildroot-log"] = shown(Cache(settings.cache_dir / "buildroot").log(name, arch), settings.project_dir)
    return info
