"""The ``qemu`` collection: let this machine run other architectures' containers."""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from rootfs_ci.arch import ARCH_NAMES, architecture, choices
from rootfs_ci.tasks.boundary import boundary, emit


@task(help={"arch": f"architecture to emulate: {choices()} (default: every one but this machine's)"})
@boundary
def setup(c: Context, arch: str | None = None) -> None:
    """Register qemu-user-static with binfmt_misc (root), so arm64 images run under emulation."""
    from rootfs_ci.qemu import ensure_binfmt

    for name in [architecture(arch).name] if arch else ARCH_NAMES:
        emit(ensure_binfmt(name))


ns = Collection("qemu", setup)
