"""``build`` stage: image config -> backend -> normalised rootfs.tar + rootfs.json in dist/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ci import __version__
from ci.config import Settings
from ci.errors import BackendError
from ci.fsutil import scratch_dir, sha256_file
from ci.progress import Progress
from ci.records import stage_dir, write_record
from ci.rootfs import debian
from ci.rootfs.tarball import write_rootfs_tar

BACKENDS = ("debian", "buildroot")


def build_rootfs(settings: Settings, name: str | None, arch: str | None, backend: str | None) -> dict[str, Any]:
    name, image = settings.image(name)
    arch = settings.arch(image, arch)
    backend = backend or image.backend
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}; use one of: {', '.join(BACKENDS)}")
    if backend == "buildroot":
        raise BackendError("the buildroot backend is not available yet in this version; build with --backend debian")
    progress = Progress("build", f"{name}/{arch}")
    out_dir = stage_dir(settings.dist_dir, name, arch)
    rootfs_tar = out_dir / "rootfs.tar"
    with scratch_dir(settings.cache_dir / "tmp", f"build-{name}-{arch}-") as work:
        tree, assembly = debian.assemble(image, arch, settings.project_dir, settings.cache_dir, work, progress)
        permissions = {path: int(mode, 8) for path, mode in image.permissions.items()}
        size = write_rootfs_tar(tree, rootfs_tar, settings.source_date_epoch, permissions)
    digest = sha256_file(rootfs_tar)
    used = assembly.used_packages()
    record: dict[str, Any] = {
        "stage": "build",
        "tool": f"rootfs-ci {__version__}",
        "image": name,
        "arch": arch,
        "backend": backend,
        "rootfs": {"path": rootfs_tar.name, "sha256": digest, "size": size},
        "source_date_epoch": settings.source_date_epoch,
        "overlays": list(image.overlays),
        "packages": [
            {
                "name": p.name,
                "version": p.version,
                "arch": p.arch,
                "sha256": p.sha256,
                "file": p.path.name,
                "used": p.name in used,
            }
            for p in assembly.packages
        ],
    }
    write_record(out_dir / "rootfs.json", record)
    progress.step(f"rootfs.tar {size / 1e6:.2f} MB sha256 {digest[:16]}... -> {_display(rootfs_tar)}")
    return record


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
