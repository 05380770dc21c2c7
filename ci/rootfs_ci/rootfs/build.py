"""``build`` stage: image config -> backend -> normalised rootfs.tar, sbom.json and rootfs.json in dist/."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from rootfs_ci import __version__
from rootfs_ci.config import NAMESPACE, Settings
from rootfs_ci.errors import BackendError
from rootfs_ci.fsutil import scratch_dir, sha256_file, shown, write_atomic
from rootfs_ci.progress import Progress
from rootfs_ci.records import RootfsFile, RootfsRecord, SbomFile, stage_dir, write_record
from rootfs_ci.rootfs import buildroot, debian
from rootfs_ci.rootfs.lockfile import LockSection
from rootfs_ci.rootfs.locking import Target, locked_section, record_section
from rootfs_ci.rootfs.sources import image_sources
from rootfs_ci.rootfs.tarball import check_size, write_rootfs_tar
from rootfs_ci.version import CHANGELOG, project_version

BACKENDS = ("debian", "buildroot")


def build_rootfs(
    settings: Settings, name: str | None, arch: str | None, backend: str | None, *, locked: bool = False
) -> RootfsRecord:
    """Build one image x arch from its lock section (written first when missing, unless ``locked``)."""
    name, image = settings.image(name)
    arch = settings.arch(image, arch)
    backend = backend or image.backend
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}; use one of: {', '.join(BACKENDS)}")
    version = project_version(settings.project_dir / CHANGELOG)  # for the SBOM; fails before any work
    progress = Progress("build", f"{name}/{arch}")
    target = Target(name, image, arch, backend)
    section, resolved = locked_section(settings, target, locked=locked)
    out_dir = stage_dir(settings.dist_dir, name, arch)
    rootfs_tar = out_dir / "rootfs.tar"
    built: buildroot.Built | None = None
    with scratch_dir(settings.cache_dir / "tmp", f"build-{name}-{arch}-") as work:
        if backend == "buildroot":
            built = buildroot.assemble(settings, name, image, arch, work, progress)
            tree, packages = built.tree, built.packages
        else:
            tree, packages = _assemble_debian(settings, target, section, work, progress)
        permissions = {path: int(mode, 8) for path, mode in image.permissions.items()}
        check_size(tree, image.max_rootfs_bytes, f"{NAMESPACE}.images.{name}.max_rootfs_bytes")
        size = write_rootfs_tar(tree, rootfs_tar, settings.source_date_epoch, permissions)
    digest = sha256_file(rootfs_tar)
    subject = {
        "image": name, "arch": arch, "backend": backend, "rootfs_sha256": digest, "version": version,
        "lock_digest": section.digest(),
    }  # fmt: skip
    sbom, labels = _write_sbom(settings, out_dir, subject, built, packages)
    record = RootfsRecord(
        tool=f"rootfs-ci {__version__}",
        image=name,
        arch=arch,
        backend=backend,
        rootfs=RootfsFile(path=rootfs_tar.name, sha256=digest, size=size),
        source_date_epoch=settings.source_date_epoch,
        overlays=tuple(image.overlays),
        packages=tuple(packages),
        sbom=sbom,
        labels=labels,
        buildroot=built.details if built is not None else None,
        lock_digest=section.digest(),
    )
    write_record(out_dir / RootfsRecord.FILE, record)
    if resolved:
        record_section(settings, target, section, progress)
    progress.step(f"rootfs.tar {size / 1e6:.2f} MB sha256 {digest[:16]}... -> {shown(rootfs_tar)}")
    sbom_path = shown(out_dir / sbom.path)
    progress.step(f"sbom.json CycloneDX {sbom.spec_version}, {len(packages)} packages -> {sbom_path}")
    return record


def _assemble_debian(
    settings: Settings, target: Target, section: LockSection, work: Path, progress: Progress
) -> tuple[Path, list[dict[str, Any]]]:
    sources = image_sources(settings, target.name, target.image)
    tree, assembly = debian.assemble(
        target.image, target.arch, settings.project_dir, settings.cache_dir, work, progress, section, sources
    )
    used = assembly.used_packages()
    packages = [
        {"name": p.name, "version": p.version, "arch": p.arch, "sha256": p.sha256, "file": p.path.name,
         "used": p.name in used}
        for p in assembly.packages
    ]  # fmt: skip
    return tree, packages


def _write_sbom(
    settings: Settings,
    out_dir: Path,
    subject: dict[str, Any],
    built: buildroot.Built | None,
    packages: list[dict[str, Any]],
) -> tuple[SbomFile, dict[str, str]]:
    """sbom.json beside rootfs.tar; returns its record entry and the label that names it by digest."""
    # Imported here: the CycloneDX library takes half a second to load, which every task would pay.
    from rootfs_ci.sbom import (  # noqa: PLC0415
        MEDIA_TYPE,
        SBOM_FILE,
        SBOM_LABEL,
        SPEC_VERSION,
        Subject,
        buildroot_sbom,
        debian_sbom,
    )

    described = Subject(**subject, epoch=settings.source_date_epoch)
    if built is not None:
        sbom = buildroot_sbom(described, built.show_info, settings.config.buildroot.version, built.source)
    else:
        sbom = debian_sbom(described, packages)
    sbom_bytes = sbom.encode()
    write_atomic(out_dir / SBOM_FILE, sbom_bytes)
    sbom_digest = hashlib.sha256(sbom_bytes).hexdigest()
    entry = SbomFile(path=SBOM_FILE, sha256=sbom_digest, media_type=MEDIA_TYPE, spec_version=SPEC_VERSION)
    # For the image stage: the SBOM travels with the image by digest.
    return entry, {SBOM_LABEL: f"sha256:{sbom_digest}"}
