"""Tasks: publish and verify (top level), registry.up and registry.down (the embedded registry)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from rootfs_ci.config import Settings
from rootfs_ci.errors import ConfigError
from rootfs_ci.tasks.edge import edge, emit, settings
from rootfs_ci.tasks.stages import ARCH_HELP, IMAGE_HELP

if TYPE_CHECKING:
    from rootfs_ci.registry import local

REGISTRY_HELP = "target HOST[:PORT][/NAMESPACE], e.g. ghcr.io/owner (default: rootfs_ci.registry.target)"


def local_registry(config: Settings) -> local.LocalRegistry:
    from rootfs_ci.registry import local

    return local.LocalRegistry(
        port=config.config.registry.local_port,
        storage=config.project_dir / config.config.registry.local_storage,
        state_dir=config.cache_dir / "registry-server",
    )


@task
@edge
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
@edge
def down(c: Context) -> None:
    """Stop the embedded registry that 'invoke registry.up' started."""
    from rootfs_ci.registry import local

    registry = local_registry(settings(c))
    pid = local.stop(registry)
    emit(f"registry {registry.address} stopped (pid {pid})" if pid else f"registry {registry.address} was not running")


@task(
    help={
        "image": IMAGE_HELP,
        "arch": ARCH_HELP,
        "registry": REGISTRY_HELP,
        "ref": "git ref the image was built from (refs/tags/v1.2.3, refs/heads/main); tags follow "
        "rootfs_ci.tags.rules (default: tag with the CHANGELOG version only)",
        "sha": "git commit the image was built from (for type=sha tags)",
        "by_digest": "push by digest only, no tags (a release merges the architectures with 'invoke publish-index')",
    }
)
@edge
def publish(
    c: Context,
    image: str | None = None,
    arch: str | None = None,
    registry: str | None = None,
    ref: str | None = None,
    sha: str | None = None,
    by_digest: bool = False,
) -> None:
    """Push the smoke-tested image to the registry: blobs, manifest by digest, then its tags."""
    from rootfs_ci.publish import publish as publish_image
    from rootfs_ci.publish import resolve_tags

    config = settings(c)
    if by_digest and (ref or sha):
        raise ConfigError("--by-digest pushes no tags, so --ref and --sha do not apply; drop them")
    tags = [] if by_digest else resolve_tags(config, ref, sha)
    record = publish_image(config, image, arch, registry, tags, by_digest=by_digest)
    emit(f"published {record['reference']}", f"tags: {' '.join(record['tags']) or 'none (by digest)'}")


@task(
    help={
        "image": IMAGE_HELP,
        "arch": ARCH_HELP,
        "registry": REGISTRY_HELP,
        "tag": "tag to pull and check (default: the CHANGELOG version)",
        "keep": "keep the pulled image in the engine (default: remove it after the check)",
    }
)
@edge
def verify(
    c: Context,
    image: str | None = None,
    arch: str | None = None,
    registry: str | None = None,
    tag: str | None = None,
    keep: bool = False,
) -> None:
    """Pull a published tag, check it is the smoke-tested digest, and run the smoke spec on it."""
    from rootfs_ci.publish import verify as verify_image

    record = verify_image(settings(c), image, arch, tag, registry, keep=keep)
    emit(f"verified {record['reference']}: {record['manifest_digest']} ({record['checks']} smoke checks passed)")


def install(ns: Collection) -> None:
    """Add publish, verify and the registry collection (registry.up, registry.down) to ``ns``."""
    ns.add_task(publish)
    ns.add_task(verify)
    ns.add_collection(Collection("registry", up, down))
