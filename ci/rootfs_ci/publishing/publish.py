"""``publish``: ship exactly the digest that passed smoke, under tags the release policy allows.

publish refuses unless dist/IMAGE/ARCH/smoke.json passed for the manifest digest image.json records
(and image.tar holds), and before anything is pushed when a version tag would move.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from rootfs_ci.attest.attach import attach, gather
from rootfs_ci.config import Settings
from rootfs_ci.errors import ConfigError, ImageError
from rootfs_ci.github import write_outputs
from rootfs_ci.image.layout import read_layout
from rootfs_ci.progress import Progress
from rootfs_ci.publishing.policy import check_version_tags, default_tag, smoke_tested
from rootfs_ci.records import PublishRecord, PushedBlobs, stage_dir, write_record
from rootfs_ci.registry.client import open_client
from rootfs_ci.registry.push import push_image
from rootfs_ci.registry.referrers import Descriptor
from rootfs_ci.registry.repository import Repository
from rootfs_ci.registry.target import check_tag, parse_target


def publish(
    settings: Settings,
    image: str | None,
    arch: str | None,
    registry_target: str | None,
    tags: Sequence[str] | None,
    *,
    by_digest: bool = False,
    environ: Mapping[str, str] | None = None,
    client_options: Mapping[str, Any] | None = None,
) -> PublishRecord:
    """Push dist/IMAGE/ARCH/image.tar under ``tags`` (default: the project version), attach its SBOM and
    provenance as referrers (rootfs_ci.attest); write publish.json.

    ``by_digest`` pushes the manifest by digest only, with no tag (a release then merges the
    architectures into one tagged index: rootfs_ci.publishing.multiarch.publish_index).
    """
    if by_digest and tags:
        raise ConfigError("a push by digest applies no tags; drop the tags (--ref/--sha) or --by-digest")
    environ = os.environ if environ is None else environ
    target = parse_target(registry_target or settings.config.registry.target)
    name, image_config = settings.image(image)
    arch = settings.arch(image_config, arch)
    directory = stage_dir(settings.dist_dir, name, arch)
    image_record, _ = smoke_tested(settings, name, arch)
    layout = read_layout(directory / "image.tar")
    if layout.manifest_digest != image_record.manifest_digest:
        raise ImageError(
            f"{layout.archive} holds {layout.manifest_digest}, not the smoke-tested {image_record.manifest_digest}; "
            f"run 'invoke image --image {name}' and 'invoke smoke --image {name}' again"
        )
    tags = [] if by_digest else list(dict.fromkeys(check_tag(tag) for tag in (tags or [default_tag(settings)])))
    repository_name = target.repository(name)
    attestations = gather(settings, image_record, f"{target.host}/{repository_name}", layout.manifest_digest, environ)
    progress = Progress("publish", f"{name}/{arch}")
    progress.step(f"pushing {layout.manifest_digest[:19]}... to {target} as {', '.join(tags) or 'digest only'}")
    with open_client(target, environ, **(client_options or {})) as client:
        repository = Repository(client, repository_name, push=True)
        check_version_tags(repository, layout.manifest_digest, tags)
        result = push_image(repository, layout, tags, progress=progress)
        subject = Descriptor(layout.media_type, layout.manifest_digest, len(layout.manifest))
        for attached in attach(repository, subject, attestations):
            progress.step(f"attached {attached.artifact_type} {attached.digest[:19]}... to {result.digest[:19]}...")
    record = PublishRecord(
        image=name,
        arch=arch,
        registry=str(target),
        repository=f"{target.host}/{result.repository}",
        reference=target.reference(result.repository, result.digest),
        manifest_digest=result.digest,
        tags=result.tags,
        blobs=PushedBlobs(uploaded=result.uploaded, existing=result.existing),
    )
    write_record(directory / PublishRecord.FILE, record)
    write_outputs({"digest": result.digest, "tags": ",".join(result.tags), "reference": record.reference}, environ)
    return record
