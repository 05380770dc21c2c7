"""Read an image to push from an OCI image layout archive (dist/IMAGE/ARCH/image.tar).

index.json -> manifest blob -> config and layer blobs, all under blobs/sha256/. The archive is an
uncompressed tar, so each blob is a byte range of it and is read straight from there, in ranges.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rootfs_ci.errors import ImageError


@dataclass(frozen=True)
class LayoutBlob:
    """A blob stored in the archive at ``offset``; implements the client's BlobSource."""

    archive: Path
    offset: int
    digest: str
    size: int
    media_type: str

    def read(self, offset: int, length: int) -> bytes:
        with self.archive.open("rb") as handle:
            handle.seek(self.offset + offset)
            data = handle.read(length)
        if len(data) != length:
            raise ImageError(f"{self.archive} ends inside blob {self.digest}; rebuild it with 'invoke image'")
        return data


@dataclass(frozen=True)
class LayoutImage:
    archive: Path
    manifest: bytes
    manifest_digest: str
    media_type: str
    config: LayoutBlob
    layers: tuple[LayoutBlob, ...]
    platform: dict[str, str]

    @property
    def blobs(self) -> tuple[LayoutBlob, ...]:
        return (self.config, *self.layers)


def _member_bytes(tar: tarfile.TarFile, name: str, archive: Path) -> bytes:
    try:
        handle = tar.extractfile(name)
    except KeyError:
        handle = None
    if handle is None:
        raise ImageError(f"{archive} has no {name}; it is not an OCI image layout (rebuild it with 'invoke image')")
    return handle.read()


def _blob_name(digest: str, archive: Path) -> str:
    algorithm, _, hex_digest = digest.partition(":")
    if algorithm != "sha256" or len(hex_digest) != 64:
        raise ImageError(f"{archive} names blob {digest!r}, which is not a sha256 digest")
    return f"blobs/sha256/{hex_digest}"


def _blob(tar: tarfile.TarFile, archive: Path, descriptor: dict[str, Any]) -> LayoutBlob:
    digest = str(descriptor.get("digest", ""))
    name = _blob_name(digest, archive)
    try:
        member = tar.getmember(name)
    except KeyError:
        raise ImageError(f"{archive} lacks blob {digest}; rebuild it with 'invoke image'") from None
    if not member.isfile() or member.issparse() or member.size != descriptor.get("size"):
        raise ImageError(f"{archive}: blob {digest} is not a plain file of {descriptor.get('size')} bytes")
    return LayoutBlob(archive, member.offset_data, digest, member.size, str(descriptor.get("mediaType", "")))


def read_layout(archive: Path) -> LayoutImage:
    """The single image of an OCI layout archive, with the manifest bytes checked against their digest."""
    try:
        tar = tarfile.open(archive, "r:")  # noqa: SIM115 (closed below)
    except FileNotFoundError:
        raise ImageError(f"{archive} does not exist; run 'invoke image' first") from None
    except (OSError, tarfile.TarError) as exc:
        raise ImageError(f"{archive} is not an uncompressed tar ({exc}); rebuild it with 'invoke image'") from None
    with tar:
        try:
            index = json.loads(_member_bytes(tar, "index.json", archive))
            descriptors = index["manifests"]
        except (ValueError, KeyError, TypeError):
            raise ImageError(f"{archive}: index.json is not an OCI index; rebuild it with 'invoke image'") from None
        if not isinstance(descriptors, list) or len(descriptors) != 1:
            raise ImageError(f"{archive}: index.json must name exactly one manifest (one image per archive)")
        descriptor = descriptors[0]
        digest = str(descriptor.get("digest", ""))
        manifest = _member_bytes(tar, _blob_name(digest, archive), archive)
        if "sha256:" + hashlib.sha256(manifest).hexdigest() != digest:
            raise ImageError(f"{archive}: manifest {digest} does not match its bytes; rebuild it with 'invoke image'")
        try:
            parsed = json.loads(manifest)
            config = _blob(tar, archive, parsed["config"])
            layers = tuple(_blob(tar, archive, layer) for layer in parsed["layers"])
            media_type = str(parsed.get("mediaType") or descriptor.get("mediaType", ""))
            image_config = json.loads(config.read(0, config.size))
            platform = {"architecture": str(image_config["architecture"]), "os": str(image_config["os"])}
        except (ValueError, KeyError, TypeError):
            raise ImageError(f"{archive}: manifest {digest} or its config is malformed; rebuild it") from None
        if image_config.get("variant"):
            platform["variant"] = str(image_config["variant"])
    return LayoutImage(archive, manifest, digest, media_type, config, layers, platform)
