"""Defconfig work the Buildroot way: load with kconfig, verify, edit with menuconfig, save.

Configuration runs use their own output directory per image, so they never disturb a build.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rootfs_ci.buildroot.dotconfig import dropped_lines, significant_lines
from rootfs_ci.buildroot.external import External, load_external
from rootfs_ci.buildroot.make import Make
from rootfs_ci.buildroot.source import Cache, source_tree
from rootfs_ci.config import NAMESPACE, ImageConfig, Settings
from rootfs_ci.errors import ConfigError
from rootfs_ci.fsutil import atomic_output, scratch_dir, shown
from rootfs_ci.progress import Progress

SHOWN_LINES = 5
Targets = list[tuple[str, ImageConfig, str]]  # (image, its config, arch)


@dataclass(frozen=True)
class Workspace:
    """The pinned Buildroot source and the project's BR2_EXTERNAL tree."""

    settings: Settings
    external: External
    cache: Cache
    source: Path

    def config_make(self, image: str, arch: str) -> Make:
        return Make(self.source, self.cache.config_output(f"{image}-{arch}"), self.external)


def workspace(
    settings: Settings, progress: Progress, image: str | None, every: bool, arch: str | None = None
) -> tuple[Workspace, Targets]:
    """The (image, arch) pairs to work on (``image``, or with ``every`` all images with a defconfig;
    every platform unless ``arch``) and the source.

    Everything local is checked before the source is fetched, so a typo never waits for a clone.
    """
    pin = settings.config.buildroot
    external = load_external(settings.project_dir, pin.external)
    images = list(images_with_defconfigs(settings, external)) if image is None and every else [settings.image(image)]
    if not every and arch is None:
        arch = images[0][1].platforms[0]
    targets = [
        (name, config, platform)
        for name, config in images
        for platform in ([settings.arch(config, arch)] if arch else config.platforms)
    ]
    for name, config, target_arch in targets:
        external.defconfig(name, config, target_arch)
    cache = Cache(settings.cache_dir / "buildroot")
    source = source_tree(pin, settings.project_dir, cache, progress)
    return Workspace(settings, external, cache, source), targets


def require_kept(defconfig: Path, dotconfig: Path, image: str, project_dir: Path) -> int:
    """Every symbol line of the defconfig must be in the .config; return how many there are."""
    wanted = defconfig.read_text(encoding="utf-8")
    dropped = dropped_lines(wanted, dotconfig.read_text(encoding="utf-8"))
    if dropped:
        listed = ", ".join(f"'{line}'" for line in dropped[:SHOWN_LINES])
        more = f" and {len(dropped) - SHOWN_LINES} more" if len(dropped) > SHOWN_LINES else ""
        raise ConfigError(
            f"{shown(defconfig, project_dir)}: kconfig dropped {listed}{more} (unknown symbol, or one whose "
            f"dependencies are not enabled); fix or remove those lines of image {image}'s defconfig"
        )
    return len(significant_lines(wanted))


def load_defconfig(make: Make, defconfig: Path, image: str, project_dir: Path) -> int:
    """``make NAME_defconfig``, then the check-dotconfig rule; the number of defconfig lines kept."""
    make.run(defconfig.name)
    return require_kept(defconfig, make.output / ".config", image, project_dir)


def _first_difference(expected: str, actual: str) -> str:
    for index, (want, got) in enumerate(zip(expected.splitlines(), actual.splitlines(), strict=False), start=1):
        if want != got:
            return f"line {index}: Buildroot writes '{want}', the file has '{got}'"
    return f"Buildroot writes {len(expected.splitlines())} lines, the file has {len(actual.splitlines())}"


def check_image(workspace: Workspace, name: str, image: ImageConfig, arch: str) -> str:
    """The defconfig survives kconfig unchanged and is in savedefconfig form."""
    project_dir = workspace.settings.project_dir
    defconfig = workspace.external.defconfig(name, image, arch)
    make = workspace.config_make(name, arch)
    kept = load_defconfig(make, defconfig, name, project_dir)
    with scratch_dir(workspace.cache.root / "tmp", "savedefconfig-") as scratch:
        saved = scratch / defconfig.name
        make.run("savedefconfig", f"BR2_DEFCONFIG={saved}")
        normal = saved.read_text(encoding="utf-8")
    current = defconfig.read_text(encoding="utf-8")
    if normal != current:
        raise ConfigError(
            f"{shown(defconfig, project_dir)} is not in savedefconfig form ({_first_difference(normal, current)}); "
            f"run 'invoke buildroot.savedefconfig --image {name}'"
        )
    return f"{name}/{arch}: {shown(defconfig, project_dir)}: all {kept} lines kept by kconfig, savedefconfig form"


def save_defconfig(make: Make, defconfig: Path, project_dir: Path) -> str:
    """``make savedefconfig`` into the project's defconfig (through a temp file, so never half-written)."""
    before = defconfig.read_text(encoding="utf-8")
    mode = stat.S_IMODE(defconfig.stat().st_mode)
    with atomic_output(defconfig) as tmp:
        make.run("savedefconfig", f"BR2_DEFCONFIG={tmp}")
        os.chmod(tmp, mode)
    changed = defconfig.read_text(encoding="utf-8") != before
    return f"{shown(defconfig, project_dir)}: {'updated' if changed else 'unchanged'}"


def savedefconfig(workspace: Workspace, name: str, image: ImageConfig, arch: str) -> str:
    """Rewrite the image's defconfig in Buildroot's normal form (refused if kconfig would drop a line)."""
    defconfig = workspace.external.defconfig(name, image, arch)
    make = workspace.config_make(name, arch)
    load_defconfig(make, defconfig, name, workspace.settings.project_dir)
    return save_defconfig(make, defconfig, workspace.settings.project_dir)


def menuconfig(workspace: Workspace, name: str, image: ImageConfig, arch: str) -> str:
    """Edit the image's defconfig in Buildroot's menuconfig, then save it back."""
    defconfig = workspace.external.defconfig(name, image, arch)
    make = workspace.config_make(name, arch)
    load_defconfig(make, defconfig, name, workspace.settings.project_dir)
    make.interactive("menuconfig")
    return save_defconfig(make, defconfig, workspace.settings.project_dir)


def images_with_defconfigs(settings: Settings, external: External) -> Iterator[tuple[str, ImageConfig]]:
    """Images built by Buildroot, or that name a defconfig, or whose IMAGE_defconfig exists."""
    found = False
    for name, image in sorted(settings.config.images.items()):
        default = external.path / "configs" / f"{name}_defconfig"
        if image.backend == "buildroot" or image.buildroot.defconfig or default.is_file():
            found = True
            yield name, image
    if not found:
        raise ConfigError(
            f"no image in {NAMESPACE}.images has a Buildroot defconfig in {external.path.name}/configs/; add one"
        )
