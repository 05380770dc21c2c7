"""OCI artifacts that refer to a manifest (distribution spec 1.1): push one, list them, read their blobs.

A registry with the referrers API indexes an artifact's ``subject`` itself and says so with an
OCI-Subject header on the manifest PUT; one without it (Debian's docker-registry 2.8) stores the
manifest as is, and the client keeps the image index under the referrers tag ``sha256-<hex>``
up to date. Listing reads the API's index, or that tag's index when the API answers 404: both
are image indexes of the same descriptors and go through the same parsing and filtering here.

The referrers tag is read, extended and written back; two clients adding referrers to the same
subject at the same moment can lose one entry (the spec's fallback has no compare-and-swap).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rootfs_ci.errors import RegistryError
from rootfs_ci.image.oci import MEDIA_INDEX, MEDIA_MANIFEST, canonical_json
from rootfs_ci.registry.repository import Repository

MEDIA_EMPTY = "application/vnd.oci.empty.v1+json"
EMPTY_JSON = b"{}"
MAX_ARTIFACT_BLOB = 64 << 20

__all__ = [
    "MEDIA_EMPTY",
    "Artifact",
    "ArtifactBlob",
    "Descriptor",
    "fetch_artifact",
    "fetch_blob",
    "list_referrers",
    "push_artifact",
    "referrers_tag",
]


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor (what an index lists and a manifest's ``subject`` names)."""

    media_type: str
    digest: str
    size: int
    artifact_type: str = ""
    annotations: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.artifact_type:
            data["artifactType"] = self.artifact_type
        if self.annotations:
            data["annotations"] = dict(sorted(self.annotations.items()))
        return data

    @classmethod
    def from_json(cls, data: Any) -> Descriptor:
        """A descriptor from JSON; ValueError when it is not one."""
        if not isinstance(data, dict):
            raise ValueError("not an object")
        digest, size, annotations = data.get("digest"), data.get("size"), data.get("annotations") or {}
        if not isinstance(digest, str) or not digest.startswith("sha256:") or len(digest) != 71:
            raise ValueError(f"digest {digest!r}")
        if not isinstance(size, int) or size < 0 or not isinstance(annotations, dict):
            raise ValueError("size or annotations")
        return cls(
            str(data.get("mediaType") or ""),
            digest,
            size,
            str(data.get("artifactType") or ""),
            {str(key): str(value) for key, value in annotations.items()},
        )


@dataclass(frozen=True)
class ArtifactBlob:
    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> int:
        return len(self.data)

    def read(self, offset: int, length: int) -> bytes:
        return self.data[offset : offset + length]


@dataclass(frozen=True)
class Artifact:
    """An artifact manifest read back: its descriptor (as listed), ``subject`` and layer descriptors."""

    descriptor: Descriptor
    subject: str
    layers: tuple[Descriptor, ...]


def referrers_tag(digest: str) -> str:
    """The referrers tag schema's tag for ``digest``: 'sha256:<hex>' -> 'sha256-<hex>'."""
    return digest.replace(":", "-", 1)[:128]


def _where(repository: Repository) -> str:
    return f"{repository.client.target.host}/{repository.name}"


def _descriptors(body: bytes, source: str) -> list[Descriptor]:
    try:
        entries = json.loads(body).get("manifests")
        if not isinstance(entries, list):
            raise ValueError("no manifests")
        return [Descriptor.from_json(entry) for entry in entries]
    except (ValueError, AttributeError, TypeError):
        raise RegistryError(
            f"{source} is not an image index of descriptors; the registry sent something else"
        ) from None


def _tag_index(repository: Repository, digest: str) -> list[Descriptor]:
    found = repository.fetch_manifest(referrers_tag(digest))
    if found is None:
        return []
    return _descriptors(found[0], f"the referrers tag {_where(repository)}:{referrers_tag(digest)}")


def list_referrers(repository: Repository, digest: str, artifact_type: str | None = None) -> list[Descriptor]:
    """The artifacts whose ``subject`` is ``digest`` (of ``artifact_type`` only, when given)."""
    body = repository.referrers_index(digest, artifact_type)
    if body is None:
        found = _tag_index(repository, digest)
    else:
        found = _descriptors(body, f"the referrers of {_where(repository)}@{digest}")
    # A registry may ignore the filter (it says so with OCI-Filters-Applied); filtering again is harmless.
    return [entry for entry in found if not artifact_type or entry.artifact_type == artifact_type]


def _upload(repository: Repository, blob: ArtifactBlob) -> None:
    if not repository.blob_exists(blob.digest):
        repository.upload_blob(blob)


def artifact_manifest(
    subject: Descriptor, artifact_type: str, blobs: Sequence[ArtifactBlob], annotations: Mapping[str, str]
) -> bytes:
    """The artifact's image manifest: empty config, ``blobs`` as layers, ``subject``; canonical bytes."""
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "artifactType": artifact_type,
        "config": Descriptor(MEDIA_EMPTY, ArtifactBlob(MEDIA_EMPTY, EMPTY_JSON).digest, len(EMPTY_JSON)).to_json(),
        "layers": [Descriptor(blob.media_type, blob.digest, blob.size).to_json() for blob in blobs],
        "subject": Descriptor(subject.media_type, subject.digest, subject.size).to_json(),
    }
    if annotations:
        manifest["annotations"] = dict(sorted(annotations.items()))
    return canonical_json(manifest)


def push_artifact(
    repository: Repository,
    subject: Descriptor,
    artifact_type: str,
    blobs: Sequence[ArtifactBlob],
    annotations: Mapping[str, str] | None = None,
) -> Descriptor:
    """Push an artifact referring to ``subject`` (which must be in ``repository``); returns its descriptor.

    Pushing the same artifact again changes nothing: same bytes, same digest, listed once.
    """
    annotations = dict(annotations or {})
    for blob in (ArtifactBlob(MEDIA_EMPTY, EMPTY_JSON), *blobs):
        _upload(repository, blob)
    body = artifact_manifest(subject, artifact_type, blobs, annotations)
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    stored, indexed = repository.put_manifest_subject(digest, body, MEDIA_MANIFEST)
    if stored != digest:
        raise RegistryError(f"{_where(repository)} stored artifact {digest} as {stored}; the registry rewrote it")
    descriptor = Descriptor(MEDIA_MANIFEST, digest, len(body), artifact_type, annotations)
    if indexed != subject.digest:
        _add_to_tag_index(repository, subject.digest, descriptor)
    return descriptor


def _add_to_tag_index(repository: Repository, subject: str, descriptor: Descriptor) -> None:
    entries = _tag_index(repository, subject)
    if any(entry.digest == descriptor.digest for entry in entries):
        return
    index = {"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": [e.to_json() for e in (*entries, descriptor)]}
    repository.put_manifest(referrers_tag(subject), canonical_json(index), MEDIA_INDEX)


def fetch_artifact(repository: Repository, descriptor: Descriptor) -> Artifact:
    """The artifact manifest ``descriptor`` names, checked: its bytes hash to the digest and match the size."""
    body, info = repository.get_manifest(descriptor.digest)
    if info.size != descriptor.size:
        raise RegistryError(
            f"artifact {_where(repository)}@{descriptor.digest} is {info.size} bytes, "
            f"its descriptor says {descriptor.size}"
        )
    try:
        manifest = json.loads(body)
        layers = tuple(Descriptor.from_json(layer) for layer in manifest.get("layers") or [])
        subject = Descriptor.from_json(manifest.get("subject")).digest
    except (ValueError, AttributeError, TypeError):
        raise RegistryError(f"artifact {_where(repository)}@{descriptor.digest} is not an artifact manifest") from None
    return Artifact(descriptor, subject, layers)


def fetch_blob(repository: Repository, descriptor: Descriptor, max_size: int = MAX_ARTIFACT_BLOB) -> bytes:
    """A layer of an artifact: refused when larger than ``max_size`` or not hashing to its digest."""
    if descriptor.size > max_size:
        raise RegistryError(
            f"blob {_where(repository)}@{descriptor.digest} is {descriptor.size} bytes, more than the {max_size} read"
        )
    data = repository.get_blob(descriptor.digest, max_size)
    if len(data) != descriptor.size:
        raise RegistryError(
            f"blob {_where(repository)}@{descriptor.digest} is {len(data)} bytes, its descriptor says {descriptor.size}"
        )
    return data
