"""An image in the local Docker engine as a diff side, read through ``docker save`` (the SDK's get_image).

The saved archive is spooled to an anonymous temp file (gone when closed, whatever happens) and read
in place: manifest.json names the config and the layers, in both the classic and the OCI layout
form. The engine stores layers uncompressed, so this side has no compressed layer size.
"""

from __future__ import annotations

import contextlib
import json
import tarfile
import tempfile
from pathlib import Path
from typing import IO, Any

from docker.errors import DockerException, ImageNotFound

from rootfs_ci.diff.side import Side, checked_sbom, layer_streams, parse_config, sbom_label
from rootfs_ci.engine import connect
from rootfs_ci.errors import ConfigError, EngineError, ImageError


def _member(tar: tarfile.TarFile, name: str, label: str) -> IO[bytes]:
    try:
        handle = tar.extractfile(name)
    except KeyError:
        handle = None
    if handle is None:
        raise ImageError(f"{label}: docker save wrote no {name}; the engine's archive is not one this tool reads")
    return handle


def _saved(reference: str, spool: IO[bytes]) -> str:
    """Write ``docker save REFERENCE`` to ``spool``; returns the image ID."""
    client = connect()
    try:
        image_id = str(client.images.get(reference).id)
        for chunk in client.api.get_image(reference):
            spool.write(chunk)
    except ImageNotFound:
        raise ConfigError(f"image {reference} is not in the engine; build or pull it, or fix --against") from None
    except DockerException as exc:
        raise EngineError(f"the engine could not save {reference}: {exc}") from None
    spool.seek(0)
    return image_id


def _entry(manifest: Any, reference: str, label: str) -> dict[str, Any]:
    if not isinstance(manifest, list) or not manifest:
        raise ImageError(f"{label}: docker save wrote an empty manifest.json")
    for entry in manifest:
        if reference in (entry.get("RepoTags") or []):
            return dict(entry)
    return dict(manifest[0])


def engine_side(reference: str, stack: contextlib.ExitStack, fallback_sbom: Path) -> Side:
    """The engine's image ``reference``; its SBOM is ``fallback_sbom`` if that is the one its label names."""
    label = f"docker-image://{reference}"
    spool = stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 (closed by the caller's stack)
    image_id = _saved(reference, spool)
    tar = stack.enter_context(tarfile.open(fileobj=spool, mode="r:"))  # noqa: SIM115
    entry = _entry(json.load(_member(tar, "manifest.json", label)), reference, label)
    config = parse_config(_member(tar, str(entry.get("Config")), label).read(), label)
    openers = [lambda name=str(name): _member(tar, name, label) for name in entry.get("Layers") or []]
    sbom, note = checked_sbom(fallback_sbom, config) if sbom_label(config) else (None, "")
    return Side(
        label=label,
        manifest_digest=image_id,
        config=config,
        layers=layer_streams(config, openers, label),
        layer_bytes=None,
        sbom=sbom,
        sbom_note="" if sbom is not None else note or "no SBOM (the image has no SBOM label to find one by)",
    )
