"""``publish-index``: merge the per-architecture digests of one image into a multi-arch OCI image index.

A release pushes each architecture by digest only (``invoke publish --by-digest``, one CI job per
architecture), then one job merges them here and applies the tags to the index. The digests come
from each architecture's publish.json (checked against the smoke-tested image.json/smoke.json
beside it, so the index only lists digests that passed smoke) or are given as ``ARCH=DIGEST``.
Same digests and platforms -> same index bytes -> same index digest.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rootfs_ci.arch import architecture as architecture_named
from rootfs_ci.arch import platform
from rootfs_ci.config import ImageConfig, Settings
from rootfs_ci.errors import ConfigError, RegistryError, SmokeFailure
from rootfs_ci.github import write_outputs
from rootfs_ci.image.oci import MEDIA_MANIFEST
from rootfs_ci.progress import Progress
from rootfs_ci.publishing.policy import check_version_tags, smoke_tested
from rootfs_ci.records import IndexMember, IndexRecord, PublishRecord, read_record, stage_dir, write_record
from rootfs_ci.registry.client import open_client
from rootfs_ci.registry.push import IndexEntry, index_document, push_index
from rootfs_ci.registry.repository import Repository
from rootfs_ci.registry.target import RegistryTarget, check_tag, parse_target

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")  # with fullmatch: "$" would let a trailing newline in


@dataclass(frozen=True)
class Member:
    arch: str
    digest: str


def parse_digests(values: Sequence[str], name: str, image: ImageConfig, settings: Settings) -> list[Member]:
    """``ARCH=sha256:...`` arguments, in the image's platform order; each architecture once."""
    given: dict[str, str] = {}
    for value in values:
        arch, sep, digest = value.partition("=")
        if not sep or not DIGEST.fullmatch(digest):
            raise ConfigError(f"--digest {value!r} is not ARCH=sha256:<64 hex digits>, e.g. aarch64=sha256:0123...")
        settings.arch(image, arch)
        if arch in given:
            raise ConfigError(f"--digest names {arch} twice; give one digest per architecture")
        given[arch] = digest
    return [Member(arch, given[arch]) for arch in image.platforms if arch in given]


def published_members(settings: Settings, name: str, image: ImageConfig, target: RegistryTarget) -> list[Member]:
    """The digests publish recorded in dist/NAME/ARCH/publish.json, each the smoke-tested one, for ``target``."""
    repository = f"{target.host}/{target.repository(name)}"
    members = []
    for arch in image.platforms:
        path = stage_dir(settings.dist_dir, name, arch) / PublishRecord.FILE
        if not path.exists():
            continue
        again = f"invoke publish --image {name} --arch {arch} --registry {target} --by-digest"
        record = read_record(path, PublishRecord, again)
        if (record.image, record.arch) != (name, arch):
            raise ConfigError(f"{path} is not the publish record of {name}/{arch}; run '{again}'")
        if record.repository != repository:
            raise ConfigError(
                f"{path}: {name}/{arch} was published to {record.repository}, not {repository}; run '{again}'"
            )
        image_record, _ = smoke_tested(settings, name, arch)
        digest = record.manifest_digest
        if digest != image_record.manifest_digest:
            raise SmokeFailure(
                f"{path} names {digest}, but the smoke-tested {name}/{arch} is {image_record.manifest_digest}; "
                f"run '{again}'"
            )
        members.append(Member(arch, digest))
    if not members:
        raise ConfigError(
            f"no {stage_dir(settings.dist_dir, name, '*') / PublishRecord.FILE}: push each architecture first with "
            f"'invoke publish --image {name} --arch ARCH --by-digest', or pass --digest ARCH=DIGEST"
        )
    return members


def index_entry(repository: Repository, member: Member) -> IndexEntry:
    """(digest, size, platform) of a single-platform image manifest the registry holds."""
    where = f"{repository.client.target.host}/{repository.name}"
    if repository.head_manifest(member.digest) is None:
        raise RegistryError(
            f"{where} lacks manifest {member.digest} ({member.arch}); push it first with 'invoke publish --by-digest'"
        )
    body, info = repository.get_manifest(member.digest)
    try:
        media_type = json.loads(body).get("mediaType") or info.media_type
    except (ValueError, AttributeError):
        raise RegistryError(f"{where}: manifest {member.digest} is not JSON") from None
    if media_type != MEDIA_MANIFEST:
        raise RegistryError(
            f"{where}: {member.digest} ({member.arch}) is a {media_type or 'manifest of unknown type'}, "
            "not a single-platform OCI image manifest; give the digest 'invoke publish' pushed"
        )
    architecture, variant = architecture_named(member.arch).oci_platform
    entry = {"os": "linux", "architecture": architecture}
    if variant:
        entry["variant"] = variant
    return member.digest, len(body), entry


def publish_index(
    settings: Settings,
    image: str | None,
    registry_target: str | None,
    tags: Sequence[str],
    *,
    digests: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    client_options: Mapping[str, Any] | None = None,
) -> IndexRecord:
    """Push the image index over the per-architecture manifests, tag it, and write dist/NAME/publish-index.json."""
    environ = os.environ if environ is None else environ
    name, image_config = settings.image(image)
    target = parse_target(registry_target or settings.config.registry.target)
    tags = [check_tag(tag) for tag in tags]
    if not tags:
        raise ConfigError("publish-index needs at least one tag (from --ref and the tag rules, or the version)")
    members = (
        parse_digests(digests, name, image_config, settings)
        if digests
        else published_members(settings, name, image_config, target)
    )
    progress = Progress("publish-index", name)
    progress.step(f"merging {', '.join(f'{m.arch} {m.digest[:19]}...' for m in members)} for {target}")
    with open_client(target, environ, **(client_options or {})) as client:
        repository = Repository(client, target.repository(name), push=True)
        entries = [index_entry(repository, member) for member in members]
        check_version_tags(repository, index_document(entries)[1], tags)
        result = push_index(repository, entries, tags, progress=progress)
    record = IndexRecord(
        image=name,
        registry=str(target),
        repository=f"{target.host}/{result.repository}",
        reference=target.reference(result.repository, result.digest),
        digest=result.digest,
        tags=result.tags,
        manifests=tuple(
            IndexMember(arch=member.arch, platform=platform(member.arch), digest=digest, size=size)
            for member, (digest, size, _) in zip(members, entries, strict=True)
        ),
    )
    write_record(settings.dist_dir / name / IndexRecord.FILE, record)
    outputs = {"digest": result.digest, "tags": ",".join(result.tags), "reference": record.reference}
    write_outputs(outputs, environ)
    return record
