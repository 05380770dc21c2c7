"""``attestations --tag T``: what a person sees of a published tag's referrers, per platform manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass

from rootfs_ci.errors import RegistryError
from rootfs_ci.image.oci import MEDIA_INDEX
from rootfs_ci.registry.referrers import Descriptor, fetch_artifact, list_referrers
from rootfs_ci.registry.repository import MEDIA_DOCKER_LIST, Repository


@dataclass(frozen=True)
class Attached:
    """One manifest of the tag (``platform`` is '' for a single-manifest tag) and its referrers with
    the total size of each one's layers."""

    platform: str
    digest: str
    referrers: tuple[tuple[Descriptor, int], ...]


def _platform(entry: dict[str, object]) -> str:
    platform = entry.get("platform")
    if not isinstance(platform, dict):
        return "?"
    parts = (platform.get("os"), platform.get("architecture"), platform.get("variant"))
    return "/".join(str(part) for part in parts if part)


def tag_manifests(repository: Repository, tag: str) -> list[tuple[str, str]]:
    """(platform, digest) of each manifest the tag names: the tag's own, or each entry of its index."""
    found = repository.fetch_manifest(tag)
    if found is None:
        raise RegistryError(f"{repository.client.target.host}/{repository.name}:{tag} does not exist")
    body, info = found
    if info.media_type not in (MEDIA_INDEX, MEDIA_DOCKER_LIST):
        return [("", info.digest)]
    try:
        entries = json.loads(body).get("manifests") or []
        return [(_platform(entry), str(entry["digest"])) for entry in entries]
    except (ValueError, AttributeError, TypeError, KeyError):
        raise RegistryError(f"{repository.client.target.host}/{repository.name}:{tag} is an unreadable index") from None


def attestations(repository: Repository, tag: str) -> list[Attached]:
    """The referrers of every manifest ``tag`` names (the index itself carries none: see docs/publishing.md)."""
    listed = []
    for platform, digest in tag_manifests(repository, tag):
        referrers = tuple(
            (descriptor, sum(layer.size for layer in fetch_artifact(repository, descriptor).layers))
            for descriptor in list_referrers(repository, digest)
        )
        listed.append(Attached(platform, digest, referrers))
    return listed


def lines(listed: list[Attached]) -> list[str]:
    out = []
    for attached in listed:
        out.append(f"{attached.platform + ' ' if attached.platform else ''}{attached.digest}")
        if not attached.referrers:
            out.append("  (no referrers)")
        for descriptor, size in attached.referrers:
            title = descriptor.annotations.get("org.opencontainers.image.title", "")
            out.append(
                f"  {descriptor.artifact_type or descriptor.media_type} {descriptor.digest} "
                f"manifest {descriptor.size} B, content {size} B{' ' + title if title else ''}"
            )
    return out
