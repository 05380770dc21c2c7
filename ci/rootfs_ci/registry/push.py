"""Push images and indexes: blobs (skipping existing ones), the manifest by digest, then its tags.

Which tags may move is release policy, checked before these run (rootfs_ci.publishing.policy).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rootfs_ci.errors import RegistryError
from rootfs_ci.image.layout import LayoutImage
from rootfs_ci.image.oci import MEDIA_INDEX, MEDIA_MANIFEST, canonical_json
from rootfs_ci.progress import Progress
from rootfs_ci.registry.repository import Repository
from rootfs_ci.registry.target import check_tag

IndexEntry = tuple[str, int, Mapping[str, str]]


@dataclass(frozen=True)
class PushResult:
    repository: str
    digest: str
    tags: tuple[str, ...]
    uploaded: tuple[str, ...] = ()
    existing: tuple[str, ...] = ()
    mounted: tuple[str, ...] = ()


def _short(digest: str) -> str:
    return digest[:19] + "..."


def _size(size: int) -> str:
    return f"{size / 1e6:.2f} MB" if size >= 100_000 else f"{size} bytes"


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


def index_document(manifests: Sequence[IndexEntry]) -> tuple[bytes, str]:
    """The OCI image index over ``manifests`` and its digest: same entries, same bytes, same digest."""
    entries = []
    for digest, size, platform in manifests:
        if not platform.get("architecture") or not platform.get("os"):
            raise RegistryError(f"index entry {digest} needs a platform with architecture and os")
        platform_entry = dict(sorted(platform.items()))
        entries.append({"mediaType": MEDIA_MANIFEST, "digest": digest, "size": size, "platform": platform_entry})
    index = {"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": entries}
    body = canonical_json(index)
    return body, "sha256:" + hashlib.sha256(body).hexdigest()


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
    body, digest = index_document(manifests)
    push_manifest(repository, body, MEDIA_INDEX, digest, tags, progress)
    return PushResult(repository.name, digest, tuple(tags))
