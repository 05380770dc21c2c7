"""A published image as a diff side: manifest (for an index, this architecture's entry), config and
layers fetched through the registry client, each checked against its digest."""

from __future__ import annotations

import io
import json
from typing import Any

from rootfs_ci.diff.side import Side, layer_streams, parse_config
from rootfs_ci.diff.sources import latest_release
from rootfs_ci.errors import ConfigError, RegistryError
from rootfs_ci.image.oci import MEDIA_INDEX
from rootfs_ci.publishing.verify import platform_digest
from rootfs_ci.registry.repository import MEDIA_DOCKER_LIST, Repository

MAX_LAYER = 1 << 30  # the client's cap on one blob held in memory (a rootfs layer is a few MB)


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
    config = parse_config(repository.get_blob(config_digest), label)
    openers = [lambda layer=layer: io.BytesIO(repository.get_blob(layer)) for layer, _ in layer_descriptors]
    return Side(
        label=label,
        manifest_digest=digest,
        config=config,
        layers=layer_streams(config, openers, label),
        layer_bytes=sum(size for _, size in layer_descriptors),
        sbom=None,
        sbom_note="no SBOM (this registry client cannot read attached SBOMs yet)",
    )
