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
        "export_cst": "write the spec's container-structure-test part to this path (for CST itself); run nothing",
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
    export_cst: str | None = None,
) -> None:
    """Run the image's own CMD as PID 1 and check it against its smoke spec."""
    from rootfs_ci.smoke.runner import run_smoke

    if export_cst:
        _export_cst(c, image, spec, Path(export_cst))
        return
    record = run_smoke(settings(c), image, arch, tag, Path(spec) if spec else None, Path(junit) if junit else None)
    emit(f"smoke {record.reference}: passed ({len(record.checks)} checks)")


def _export_cst(c: Context, image: str | None, spec: str | None, target: Path) -> None:
    from rootfs_ci.smoke.cst import export_cst
    from rootfs_ci.smoke.runner import resolve_spec
    from rootfs_ci.smoke.spec import load_spec

    config = settings(c)
    name, _ = config.image(image)
    source = resolve_spec(config, name, Path(spec) if spec else None)
    left_out = export_cst(load_spec(source), source, target)
    note = f" (left out, exec: true: {', '.join(left_out)})" if left_out else ""
    emit(f"wrote the container-structure-test part of {source} to {target}{note}")


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
