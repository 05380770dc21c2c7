"""The ``qemu`` collection: let this machine run other architectures' containers."""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from rootfs_ci.errors import ConfigError
from rootfs_ci.tasks.boundary import boundary, emit


@task(help={"arch": "architecture to emulate: aarch64 or x86_64 (default: every one but this machine's)"})
@boundary
def setup(c: Context, arch: str | None = None) -> None:
    """Register qemu-user-static with binfmt_misc (root), so arm64 images run under emulation."""
    from rootfs_ci.qemu import (
        QEMU_NAMES,
        ensure_binfmt,
    )

    for name in [arch] if arch else list(QEMU_NAMES):
        if name not in QEMU_NAMES:
            raise ConfigError(f"unknown architecture {name!r}; use one of: {', '.join(QEMU_NAMES)}")
        emit(ensure_binfmt(name))


ns = Collection("qemu", setup)
