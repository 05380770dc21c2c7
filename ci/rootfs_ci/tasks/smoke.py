"""Tasks: smoke (check an image against its spec) and clean (remove leftovers of crashed runs)."""

from __future__ import annotations

from pathlib import Path

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from rootfs_ci.tasks.boundary import boundary, emit, settings
from rootfs_ci.tasks.stages import ARCH_HELP, IMAGE_HELP, TAG_HELP


@task(
    help={
        "image": IMAGE_HELP,
        "arch": ARCH_HELP,
        "tag": TAG_HELP,
        "spec": "smoke spec file (default: the image's smoke_spec, tests/smoke/IMAGE.yaml)",
        "junit": "also write the results as JUnit XML to this path",
    }
)
@boundary
def smoke(
    c: Context,
    image: str | None = None,
    arch: str | None = None,
    tag: str | None = None,
    spec: str | None = None,
    junit: str | None = None,
) -> None:
    """Run the image's own CMD as PID 1 and check it against its smoke spec."""
    from rootfs_ci.smoke import run_smoke

    record = run_smoke(settings(c), image, arch, tag, Path(spec) if spec else None, Path(junit) if junit else None)
    emit(f"smoke {record.reference}: passed ({len(record.checks)} checks)")


@task
@boundary
def clean(c: Context) -> None:
    """Remove containers left by crashed or killed rootfs-ci runs (those whose process is gone)."""
    from rootfs_ci.engine import connect
    from rootfs_ci.smoke.containers import clean_leftovers

    removed = clean_leftovers(connect())
    emit(f"removed {len(removed)} leftover container(s)" + (f": {', '.join(removed)}" if removed else ""))


ns = Collection("smoke", clean)
ns.add_task(smoke, default=True)
