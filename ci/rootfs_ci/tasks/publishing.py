"""The ``publishing`` collection: publish (push the smoke-tested image) and verify (pull it back and check it)."""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from rootfs_ci.errors import ConfigError
from rootfs_ci.tasks.boundary import boundary, emit, settings
from rootfs_ci.tasks.stages import ARCH_HELP, IMAGE_HELP

REGISTRY_HELP = "target HOST[:PORT][/NAMESPACE], e.g. ghcr.io/owner (default: rootfs_ci.registry.target)"


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
@boundary
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
    from rootfs_ci.publishing.policy import resolve_tags
    from rootfs_ci.publishing.publish import publish as publish_image

    config = settings(c)
    if by_digest and (ref or sha):
        raise ConfigError("--by-digest pushes no tags, so --ref and --sha do not apply; drop them")
    tags = [] if by_digest else resolve_tags(config, ref, sha)
    record = publish_image(config, image, arch, registry, tags, by_digest=by_digest)
    emit(f"published {record.reference}", f"tags: {' '.join(record.tags) or 'none (by digest)'}")


@task(
    help={
        "image": IMAGE_HELP,
        "arch": ARCH_HELP,
        "registry": REGISTRY_HELP,
        "tag": "tag to pull and check (default: the CHANGELOG version)",
        "keep": "keep the pulled image in the engine (default: remove it after the check)",
    }
)
@boundary
def verify(
    c: Context,
    image: str | None = None,
    arch: str | None = None,
    registry: str | None = None,
    tag: str | None = None,
    keep: bool = False,
) -> None:
    """Pull a published tag, check it is the smoke-tested digest, and run the smoke spec on it."""
    from rootfs_ci.publishing.verify import verify as verify_image

    record = verify_image(settings(c), image, arch, tag, registry, keep=keep)
    emit(f"verified {record.reference}: {record.manifest_digest} ({record.checks} smoke checks passed)")


ns = Collection("publishing", publish, verify)
