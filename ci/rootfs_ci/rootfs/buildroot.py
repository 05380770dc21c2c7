"""The ``buildroot`` backend: the image's defconfig built from source by the pinned Buildroot.

Out of tree, one output directory per image and architecture in the cache, downloads and ccache
shared between them. The output directory is kept between builds (Buildroot then only redoes
what is missing) unless an input that Buildroot cannot apply incrementally changed: the
Buildroot commit, the defconfig, the BR2_EXTERNAL tree, or the list of overlay files.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rootfs_ci.buildroot.buildlog import PackageTracker, run_build
from rootfs_ci.buildroot.configure import Workspace, load_defconfig, workspace
from rootfs_ci.buildroot.dotconfig import values
from rootfs_ci.buildroot.external import External
from rootfs_ci.buildroot.make import Make
from rootfs_ci.buildroot.source import Cache
from rootfs_ci.config import NAMESPACE, ImageConfig, Settings
from rootfs_ci.errors import BackendError, ConfigError, UnsafeArchiveError
from rootfs_ci.fsutil import sha256_file, shown, tree_listing
from rootfs_ci.progress import Progress

INPUTS_FILE = ".rootfs-ci-inputs"


@dataclass(frozen=True)
class Built:
    """What the backend hands to the build stage."""

    tree: Path
    packages: list[dict[str, Any]]
    show_info: dict[str, Any]
    source: Path
    details: dict[str, Any]


def build_env(cache: Cache, epoch: int) -> dict[str, str]:
    """Environment Buildroot reads: shared download dir and compiler cache, the build's timestamp."""
    return {"BR2_DL_DIR": str(cache.downloads), "BR2_CCACHE_DIR": str(cache.ccache), "SOURCE_DATE_EPOCH": str(epoch)}


def overlay_dirs(setting: str, external: External, source: Path) -> list[Path]:
    """BR2_ROOTFS_OVERLAY's directories, expanded and resolved as Buildroot's make would."""
    return [(source / external.expand(item, source)).resolve() for item in setting.split()]


def inputs_key(commit: str, arch: str, defconfig: Path, external: External, overlays: list[Path]) -> str:
    """Digest of the inputs whose change needs a clean output directory.

    Overlay file contents are left out: Buildroot copies overlays again on every build (and the
    post-fakeroot script works on a copy), so only added, removed or renamed files matter.
    """
    digest = hashlib.sha256(f"{commit}\n{arch}\n".encode())
    digest.update(defconfig.read_bytes())
    for line in tree_listing(external.path, with_content=True):
        if not line.split(b" ")[1].startswith(b"configs/"):
            digest.update(line + b"\n")
    for overlay in overlays:
        digest.update(str(overlay).encode() + b"\n")
        for line in tree_listing(overlay, with_content=False):
            digest.update(line + b"\n")
    return digest.hexdigest()


def prepare_output(output: Path, key: str, progress: Progress) -> None:
    marker = output / INPUTS_FILE
    if output.exists():
        previous = marker.read_text(encoding="utf-8").strip() if marker.is_file() else ""
        if previous == key:
            progress.step(f"output {output} kept: Buildroot rebuilds only what is missing")
        else:
            progress.step(f"inputs changed since the last build: starting again in a clean {output}")
            shutil.rmtree(output)
    output.mkdir(parents=True, exist_ok=True)
    marker.write_text(key + "\n", encoding="utf-8")


def check_config(
    config: Mapping[str, str], name: str, image: ImageConfig, arch: str, defconfig: Path, ws: Workspace
) -> None:
    """What the rest of the pipeline needs from the configuration, each checked with one clear line."""
    where = shown(defconfig, ws.settings.project_dir)
    if config.get("BR2_ARCH") != arch:
        raise ConfigError(
            f"{where} builds for {config.get('BR2_ARCH', 'an unknown architecture')}, not {arch}; "
            f"use a defconfig for {arch} ({NAMESPACE}.images.{name}.buildroot.defconfig)"
        )
    if config.get("BR2_TARGET_ROOTFS_TAR") != "y" or config.get("BR2_TARGET_ROOTFS_TAR_NONE") != "y":
        raise ConfigError(
            f"{where}: the pipeline needs an uncompressed rootfs.tar; set BR2_TARGET_ROOTFS_TAR=y, no compression"
        )
    if config.get("BR2_ROOTFS_DEVICE_CREATION_STATIC") == "y":
        raise ConfigError(
            f"{where}: static /dev puts device nodes in the rootfs, but the container engine provides /dev; "
            "use BR2_ROOTFS_DEVICE_CREATION_DYNAMIC_DEVTMPFS"
        )
    applied = set(overlay_dirs(config.get("BR2_ROOTFS_OVERLAY", ""), ws.external, ws.source))
    for overlay in image.overlays:
        path = (ws.settings.project_dir / overlay).resolve()
        if path not in applied:
            relative = os.path.relpath(path, ws.external.path)
            raise ConfigError(
                f"{NAMESPACE}.images.{name}.overlays lists {overlay!r}, but {where} does not apply it; add "
                f'"$({ws.external.path_variable})/{relative}" to BR2_ROOTFS_OVERLAY'
            )


def _rootfs_member(member: tarfile.TarInfo, destination: str) -> tarfile.TarInfo | None:
    """tar's own 'tar' filter (nothing lands outside the destination), and no device nodes."""
    if member.ischr() or member.isblk() or member.isfifo():
        raise UnsafeArchiveError(
            f"rootfs.tar holds device node /{member.name}; the engine provides /dev, so build without static /dev"
        )
    return tarfile.tar_filter(member, destination)


def extract_rootfs(archive: Path, tree: Path) -> None:
    tree.mkdir(parents=True)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(tree, filter=_rootfs_member)  # noqa: S202 (filtered)
    except tarfile.FilterError as exc:
        raise UnsafeArchiveError(f"{archive}: refused unsafe member ({exc})") from None
    except (OSError, tarfile.TarError) as exc:
        raise UnsafeArchiveError(f"{archive} is unreadable ({exc}); rebuild it") from None


def package_list(show_info: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The record's package list: every real (non-virtual) package by its Buildroot name (host-* for
    build tools); target packages are the ones in the rootfs."""
    return [
        {
            "name": name,
            "version": entry.get("version", ""),
            "type": entry["type"],
            "licenses": entry.get("licenses", ""),
            "used": entry["type"] == "target",
        }
        for name, entry in sorted(show_info.items())
        if entry.get("type") in ("target", "host") and not entry.get("virtual", False)
    ]


def assemble(settings: Settings, name: str, image: ImageConfig, arch: str, work: Path, progress: Progress) -> Built:
    """Build the image's defconfig with Buildroot; the rootfs tree is extracted under ``work``."""
    ws, _ = workspace(settings, progress, name, every=False)
    pin = settings.config.buildroot
    defconfig = ws.external.defconfig(name, image, arch)
    wanted = values(defconfig.read_text(encoding="utf-8"))
    overlays = overlay_dirs(wanted.get("BR2_ROOTFS_OVERLAY", ""), ws.external, ws.source)
    output = ws.cache.output(name, arch)
    prepare_output(output, inputs_key(pin.commit, arch, defconfig, ws.external, overlays), progress)

    make = Make(ws.source, output, ws.external, build_env(ws.cache, settings.source_date_epoch))
    kept = load_defconfig(make, defconfig, name, settings.project_dir)
    progress.step(f"{defconfig.name}: all {kept} lines kept by kconfig")
    check_config(values((output / ".config").read_text(encoding="utf-8")), name, image, arch, defconfig, ws)
    show_info = make.show_info()
    tracker = PackageTracker(show_info, output)
    run_build(make, tracker, ws.cache.log(name, arch), progress)

    archive = output / "images" / "rootfs.tar"
    if not archive.is_file():
        raise BackendError(f"Buildroot finished but wrote no {archive}; see {ws.cache.log(name, arch)}")
    tree = work / "rootfs"
    extract_rootfs(archive, tree)
    details = {
        "version": pin.version,
        "commit": pin.commit,
        "defconfig": shown(defconfig, settings.project_dir),
        "defconfig_sha256": sha256_file(defconfig),
        "package_count": tracker.total,
        "log": str(ws.cache.log(name, arch)),
    }
    return Built(tree, package_list(show_info), show_info, ws.source, details)
