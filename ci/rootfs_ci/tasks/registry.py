"""The ``registry`` collection: registry.up and registry.down, the embedded registry on loopback."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from rootfs_ci.tasks.boundary import boundary, emit, settings

if TYPE_CHECKING:
    from rootfs_ci.config import Settings
    from rootfs_ci.registry import local


def local_registry(config: Settings) -> local.LocalRegistry:
    from rootfs_ci.registry import local

    return local.LocalRegistry(
        port=config.config.registry.local_port,
        storage=config.project_dir / config.config.registry.local_storage,
        state_dir=config.cache_dir / "registry-server",
    )


@task
@boundary
def up(c: Context) -> None:
    """Start the embedded registry (docker-registry) on 127.0.0.1:rootfs_ci.registry.local_port, detached."""
    from rootfs_ci.registry import local

    registry = local_registry(settings(c))
    pid, already = local.start(registry)
    if already:
        emit(f"registry {registry.address} is already up (pid {pid})")
    else:
        emit(f"registry {registry.address} is up (pid {pid}, storage {registry.storage}, log {registry.log_file})")


@task
@boundary
def down(c: Context) -> None:
    """Stop the embedded registry that 'invoke registry.up' started."""
    from rootfs_ci.registry import local

    registry = local_registry(settings(c))
    pid = local.stop(registry)
    emit(f"registry {registry.address} stopped (pid {pid})" if pid else f"registry {registry.address} was not running")


ns = Collection("registry", up, down)
