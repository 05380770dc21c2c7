"""A published image as a diff side: manifest (for an index, this architecture's entry), config and
layers fetched through the registry client, each checked against its digest."""

from __future__ import annotations

import io
import json
from typing import Any

from rootfs_ci.diff.side import SBOM_MEDIA_TYPE, Side, layer_streams, parse_config, sbom_label
from rootfs_ci.diff.sources import latest_release
from rootfs_ci.errors import ConfigError, RegistryError
from rootfs_ci.image.oci import MEDIA_INDEX
from rootfs_ci.registry.referrers import fetch_artifact, fetch_blob, list_referrers
from rootfs_ci.registry.repository import MEDIA_DOCKER_LIST, Repository

MAX_CONFIG = 1 << 20


class NoRelease(ConfigError):
    """The registry has no release tag of the image yet: nothing to compare against (the diff task
    reports it and succeeds: a first pull request has no release to compare with)."""


def _manifest(repository: Repository, reference: str, arch: str, label: str) -> tuple[str, dict[str, Any]]:
    found = repository.fetch_manifest(reference)
    if found is None:
        raise RegistryError(f"{label} does not exist; check the tag or digest given to --against")
    body, info = found
    try:
        document = json.loads(body)
    except ValueError:
        raise RegistryError(f"{label}: the manifest is not JSON") from None
    if info.media_type in (MEDIA_INDEX, MEDIA_DOCKER_LIST):
        from rootfs_ci.publishing.verify import platform_digest  # noqa: PLC0415 (loads the docker SDK)

        digest = platform_digest(document, arch)
        if digest is None:
            raise RegistryError(f"{label} is an index without an {arch} image; pass --arch or another --against")
        return _manifest(repository, digest, arch, label)
    if not isinstance(document, dict):
        raise RegistryError(f"{label}: the manifest is not an image manifest")
    return info.digest, document


def resolve_reference(repository: Repository, reference: str) -> str:
    """``reference``, or the latest release tag when it is empty."""
    if reference:
        return reference
    latest = latest_release(repository.tags())
    if latest is None:
        where = f"{repository.client.target.host}/{repository.name}"
        raise NoRelease(f"{where} has no release tag (X.Y.Z) yet: nothing to compare against")
    return latest


def registry_side(repository: Repository, reference: str, arch: str) -> Side:
    """The image ``reference`` (tag or digest) of ``repository``; layers are fetched when read."""
    host = repository.client.target.host
    separator = "@" if reference.startswith("sha256:") else ":"
    label = f"{host}/{repository.name}{separator}{reference}"
    digest, manifest = _manifest(repository, reference, arch, label)
    try:
        config_digest = str(manifest["config"]["digest"])
        layer_descriptors = [(str(layer["digest"]), int(layer["size"])) for layer in manifest["layers"]]
    except (KeyError, TypeError, ValueError):
        raise RegistryError(f"{label}: the manifest has no config or layers") from None
    config = parse_config(repository.get_blob(config_digest, MAX_CONFIG), label)
    openers = [
        lambda layer=layer, size=size: io.BytesIO(repository.get_blob(layer, size)) for layer, size in layer_descriptors
    ]
    sbom = attached_sbom(repository, digest, sbom_label(config))
    return Side(
        label=label,
        manifest_digest=digest,
        config=config,
        layers=layer_streams(config, openers, label),
        layer_bytes=sum(size for _, size in layer_descriptors),
        sbom=sbom,
        sbom_note="" if sbom is not None else "no SBOM attached to it (as a referrer) that its SBOM label names",
    )


def attached_sbom(repository: Repository, digest: str, label: str) -> bytes | None:
    """The CycloneDX SBOM attached to manifest ``digest`` (a referrer); the one the image's SBOM label
    names when it has that label."""
    for descriptor in list_referrers(repository, digest, SBOM_MEDIA_TYPE):
        for layer in fetch_artifact(repository, descriptor).layers:
            if layer.digest == label or (not label and layer.media_type == SBOM_MEDIA_TYPE):
                return fetch_blob(repository, layer)
    return None
