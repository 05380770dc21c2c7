"""Push images and indexes: blobs (skipping existing ones), the manifest by digest, then its tags.

Version tags (X.Y.Z, X.Y.Z-pre, optionally with a leading v) are immutable: every tag is checked
before anything is pushed, and one that names another digest refuses the whole push. Other tags
(latest, 1, 1.2, branch names, sha-...) move.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import semver

from rootfs_ci.errors import RegistryError
from rootfs_ci.image.layout import LayoutImage
from rootfs_ci.image.oci import MEDIA_INDEX, MEDIA_MANIFEST
from rootfs_ci.progress import Progress
from rootfs_ci.registry.repository import Repository
from rootfs_ci.registry.target import check_tag

IndexEntry = tuple[str, int, Mapping[str, str]]


class ImmutableTagError(RegistryError):
    """A version tag already names another digest."""


@dataclass(frozen=True)
class PushResult:
    repository: str
    digest: str
    tags: tuple[str, ...]
    uploaded: tuple[str, ...] = ()
    existing: tuple[str, ...] = ()
    mounted: tuple[str, ...] = ()


def is_version_tag(tag: str) -> bool:
    return semver.Version.is_valid(tag.removeprefix("v"))


def _short(digest: str) -> str:
    return digest[:19] + "..."


def _size(size: int) -> str:
    return f"{size / 1e6:.2f} MB" if size >= 100_000 else f"{size} bytes"


def check_version_tags(repository: Repository, digest: str, tags: Sequence[str]) -> None:
    """Refuse (changing nothing) when a version tag already points at a digest other than ``digest``."""
    conflicts = []
    for tag in tags:
        if is_version_tag(tag):
            current = repository.head_manifest(tag)
            if current is not None and current.digest != digest:
                conflicts.append(f"{tag} -> {current.digest}")
    if conflicts:
        where = f"{repository.client.target.host}/{repository.name}"
        raise ImmutableTagError(
            f"{where} already has version tag {', '.join(conflicts)}, not {digest}; version tags are immutable: "
            "release a new version (CHANGELOG.md) instead of re-publishing this one"
        )


def _put(repository: Repository, reference: str, body: bytes, media_type: str, digest: str) -> None:
    got = repository.put_manifest(reference, body, media_type)
    if got != digest:
        raise RegistryError(
            f"{repository.client.target.host} stored {repository.name}:{reference} as {got}, expected {digest}; "
            "the registry rewrote the manifest"
        )


def push_manifest(
    repository: Repository, body: bytes, media_type: str, digest: str, tags: Sequence[str], progress: Progress | None
) -> None:
    """The manifest by digest first (so a tag never names a missing manifest), then each tag."""
    _put(repository, digest, body, media_type, digest)
    for tag in tags:
        _put(repository, tag, body, media_type, digest)
        if progress:
            progress.step(f"tag {tag} -> {_short(digest)}")


def push_image(
    repository: Repository,
    image: LayoutImage,
    tags: Sequence[str],
    *,
    mount_from: Sequence[str] = (),
    progress: Progress | None = None,
) -> PushResult:
    tags = [check_tag(tag) for tag in dict.fromkeys(tags)]
    check_version_tags(repository, image.manifest_digest, tags)
    uploaded: list[str] = []
    existing: list[str] = []
    mounted: list[str] = []
    for blob in image.blobs:
        if repository.blob_exists(blob.digest):
            existing.append(blob.digest)
            state = "already there"
        elif any(repository.mount_blob(blob.digest, source) for source in mount_from):
            mounted.append(blob.digest)
            state = "mounted"
        else:
            repository.upload_blob(blob)
            uploaded.append(blob.digest)
            state = "uploaded"
        if progress:
            progress.step(f"blob {_short(blob.digest)} ({_size(blob.size)}) {state}")
    push_manifest(repository, image.manifest, image.media_type, image.manifest_digest, tags, progress)
    return PushResult(
        repository.name, image.manifest_digest, tuple(tags), tuple(uploaded), tuple(existing), tuple(mounted)
    )


def index_bytes(manifests: Sequence[IndexEntry]) -> bytes:
    entries = []
    for digest, size, platform in manifests:
        if not platform.get("architecture") or not platform.get("os"):
            raise RegistryError(f"index entry {digest} needs a platform with architecture and os")
        platform_entry = dict(sorted(platform.items()))
        entries.append({"mediaType": MEDIA_MANIFEST, "digest": digest, "size": size, "platform": platform_entry})
    index = {"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": entries}
    return json.dumps(index, sort_keys=True, separators=(",", ":")).encode()


def push_index(
    repository: Repository, manifests: Sequence[IndexEntry], tags: Sequence[str], *, progress: Progress | None = None
) -> PushResult:
    """An OCI image index over manifests already in ``repository`` (one per platform), then its tags."""
    if not manifests:
        raise RegistryError("an image index needs at least one manifest")
    tags = [check_tag(tag) for tag in dict.fromkeys(tags)]
    for digest, size, platform in manifests:
        found = repository.head_manifest(digest)
        if found is None or (found.size and found.size != size):
            raise RegistryError(
                f"{repository.client.target.host}/{repository.name} lacks manifest {digest} ({size} bytes) for "
                f"{platform.get('os')}/{platform.get('architecture')}; push that image first"
            )
    body = index_bytes(manifests)
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    check_version_tags(repository, digest, tags)
    push_manifest(repository, body, MEDIA_INDEX, digest, tags, progress)
    return PushResult(repository.name, digest, tuple(tags))
