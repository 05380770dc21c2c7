"""The ``publishing`` collection: publish (push the smoke-tested image and its attestations), verify (pull it
back and check it) and attestations (list what is attached to a tag)."""

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
        "commit": "git commit the provenance must name (default: the image's org.opencontainers.image.revision)",
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
    commit: str | None = None,
) -> None:
    """Pull a published tag, check it is the smoke-tested digest with its SBOM and provenance attached,
    and run the smoke spec on it."""
    from rootfs_ci.publishing.verify import verify as verify_image

    record = verify_image(settings(c), image, arch, tag, registry, keep=keep, commit=commit)
    emit(f"verified {record.reference}: {record.manifest_digest} ({record.checks} smoke checks passed)")


@task(
    help={
        "tag": "tag to look up (default: the CHANGELOG version)",
        "image": IMAGE_HELP,
        "registry": REGISTRY_HELP,
    }
)
@boundary
def attestations(c: Context, tag: str | None = None, image: str | None = None, registry: str | None = None) -> None:
    """List the SBOM and provenance attached to a published tag (each platform's manifest of an index)."""
    from rootfs_ci.attest.listing import attestations as listed
    from rootfs_ci.attest.listing import lines
    from rootfs_ci.publishing.policy import default_tag
    from rootfs_ci.registry.client import open_client
    from rootfs_ci.registry.repository import Repository
    from rootfs_ci.registry.target import check_tag, parse_target

    config = settings(c)
    target = parse_target(registry or config.config.registry.target)
    name, _ = config.image(image)
    with open_client(target) as client:
        found = listed(Repository(client, target.repository(name)), check_tag(tag or default_tag(config)))
    emit(*lines(found))


ns = Collection("publishing", publish, verify, attestations)
