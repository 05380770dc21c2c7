"""Tasks for the pipeline stages: build (rootfs), image (load into the engine), pipeline (all)."""

from __future__ import annotations

import sys

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from rootfs_ci.arch import choices
from rootfs_ci.tasks.boundary import boundary, emit, fail, settings

IMAGE_HELP = "image name from invoke.yaml (default: rootfs_ci.default_image, else the first image)"
ARCH_HELP = f"architecture: {choices()} (default: the image's first platform)"
BACKEND_HELP = "rootfs backend: debian or buildroot (default: the image's backend)"
LOCKED_HELP = "use the lock file as it is: fail rather than write a missing section (CI)"
TAG_HELP = "local tag, e.g. v01 -> IMAGE:v01, or a full reference (default: rootfs_ci.local_tag)"


@task(help={"image": IMAGE_HELP, "arch": ARCH_HELP, "backend": BACKEND_HELP, "locked": LOCKED_HELP})
@boundary
def build(
    c: Context, image: str | None = None, arch: str | None = None, backend: str | None = None, locked: bool = False
) -> None:
    """Build the rootfs: dist/IMAGE/ARCH/rootfs.tar and rootfs.json."""
    from rootfs_ci.pipeline import rootfs_line
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


@task(
    help={
        "image": IMAGE_HELP,
        "arch": ARCH_HELP,
        "backend": BACKEND_HELP,
        "tag": TAG_HELP,
        "locked": LOCKED_HELP,
        "all": "every image x architecture of invoke.yaml, in parallel (one progress line per job, then a table)",
        "jobs": "with --all: how many at once (default 0: the CPU count)",
    }
)
@boundary
def pipeline(
    c: Context,
    image: str | None = None,
    arch: str | None = None,
    backend: str | None = None,
    tag: str | None = None,
    locked: bool = False,
    all_: bool = False,
    jobs: int = 0,
) -> None:
    """The main job: build the rootfs, make the image, smoke-test it (the README's one command)."""
    from rootfs_ci.pipeline import run_all, run_pipeline

    if all_:
        if image or arch:
            raise fail("--all runs every image and architecture; drop --image/--arch, or drop --all", 2)
        run_all(settings(c), backend, tag, jobs, sys.stderr, locked=locked)
    else:
        run_pipeline(settings(c), image, arch, backend, tag, locked=locked)


ns = Collection("stages", build, image, pipeline)
