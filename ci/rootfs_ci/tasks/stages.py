"""Tasks for the pipeline stages: build (rootfs), image (load into the engine), pipeline (all)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from rootfs_ci.arch import choices
from rootfs_ci.tasks.boundary import boundary, emit, settings

if TYPE_CHECKING:
    from rootfs_ci.records import RootfsRecord

IMAGE_HELP = "image name from invoke.yaml (default: rootfs_ci.default_image, else the first image)"
ARCH_HELP = f"architecture: {choices()} (default: the image's first platform)"
BACKEND_HELP = "rootfs backend: debian or buildroot (default: the image's backend)"
LOCKED_HELP = "use the lock file as it is: fail rather than write a missing section (CI)"
TAG_HELP = "local tag, e.g. v01 -> IMAGE:v01, or a full reference (default: rootfs_ci.local_tag)"


def rootfs_line(record: RootfsRecord) -> str:
    return f"rootfs {record.image}/{record.arch}: {record.rootfs.size} bytes sha256:{record.rootfs.sha256}"


@task(help={"image": IMAGE_HELP, "arch": ARCH_HELP, "backend": BACKEND_HELP, "locked": LOCKED_HELP})
@boundary
def build(
    c: Context, image: str | None = None, arch: str | None = None, backend: str | None = None, locked: bool = False
) -> None:
    """Build the rootfs: dist/IMAGE/ARCH/rootfs.tar and rootfs.json."""
    from rootfs_ci.rootfs.build import build_rootfs

    record = build_rootfs(settings(c), image, arch, backend, locked=locked)
    emit(rootfs_line(record))


@task(help={"image": IMAGE_HELP, "arch": ARCH_HELP, "tag": TAG_HELP})
@boundary
def image(c: Context, image: str | None = None, arch: str | None = None, tag: str | None = None) -> None:
    """Write the image from the built rootfs and load it into the local Docker engine."""
    from rootfs_ci.image.build import build_image

    record = build_image(settings(c), image, arch, tag)
    emit(f"image {record.reference}: {record.image_id}")


@task(help={"image": IMAGE_HELP, "arch": ARCH_HELP, "backend": BACKEND_HELP, "tag": TAG_HELP, "locked": LOCKED_HELP})
@boundary
def pipeline(
    c: Context,
    image: str | None = None,
    arch: str | None = None,
    backend: str | None = None,
    tag: str | None = None,
    locked: bool = False,
) -> None:
    """The main job: build the rootfs, make the image, smoke-test it (the README's one command)."""
    from rootfs_ci.image.build import build_image
    from rootfs_ci.rootfs.build import build_rootfs
    from rootfs_ci.smoke import run_smoke
    from rootfs_ci.smoke.runner import resolve_spec

    config = settings(c)
    resolve_spec(config, config.image(image)[0])  # a missing spec fails now, not after the build
    built = build_rootfs(config, image, arch, backend, locked=locked)
    loaded = build_image(config, built.image, built.arch, tag, built=built)
    emit(rootfs_line(built), f"image {loaded.reference}: {loaded.image_id}")
    smoked = run_smoke(config, built.image, built.arch, tag, image_record=loaded)
    emit(f"smoke {smoked.reference}: passed ({len(smoked.checks)} checks)")


ns = Collection("stages", build, image, pipeline)
