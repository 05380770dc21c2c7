"""One side of a diff: an image's config, its layers as streams, its SBOM (or why there is none)."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from rootfs_ci.diff.tree import CHUNK, LayerStream
from rootfs_ci.errors import ImageError

# rootfs_ci.sbom's SBOM_LABEL and MEDIA_TYPE (tests/unit/test_diff.py checks they agree): importing that
# module loads cyclonedx, a third of a diff's run time.
SBOM_LABEL = "org.rootfs-ci.sbom"
SBOM_MEDIA_TYPE = "application/vnd.cyclonedx+json"


@dataclass(frozen=True)
class Side:
    label: str  # how the report names it
    manifest_digest: str  # "" when the source has no manifest (an engine image on the classic store)
    config: dict[str, Any]
    layers: tuple[LayerStream, ...]
    layer_bytes: int | None  # compressed layers; None when the source stores them uncompressed
    sbom: bytes | None
    sbom_note: str = ""  # why there is no SBOM

    @property
    def diff_ids(self) -> tuple[str, ...]:
        return tuple(self.config.get("rootfs", {}).get("diff_ids") or ())


def parse_config(data: bytes, label: str) -> dict[str, Any]:
    try:
        config = json.loads(data)
        diff_ids = config["rootfs"]["diff_ids"]
    except (ValueError, KeyError, TypeError):
        raise ImageError(f"{label}: the image config is not an OCI image config") from None
    if not isinstance(diff_ids, list) or not all(isinstance(item, str) for item in diff_ids):
        raise ImageError(f"{label}: the image config's rootfs.diff_ids is not a list of digests")
    return dict(config)


def layer_streams(config: dict[str, Any], openers: list[Any], label: str) -> tuple[LayerStream, ...]:
    diff_ids = config["rootfs"]["diff_ids"]
    if len(diff_ids) != len(openers):
        raise ImageError(f"{label}: the manifest lists {len(openers)} layers but the config {len(diff_ids)}")
    return tuple(LayerStream(diff_id, opener) for diff_id, opener in zip(diff_ids, openers, strict=True))


def sbom_label(config: dict[str, Any]) -> str:
    """The SBOM digest the image carries as a label ("" when it has none)."""
    labels = (config.get("config") or {}).get("Labels") or {}
    return str(labels.get(SBOM_LABEL) or "")


def checked_sbom(path: Path, config: dict[str, Any]) -> tuple[bytes | None, str]:
    """(sbom.json's bytes, "") when it is the SBOM the image's label names; else (None, why)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None, f"no SBOM ({path} is missing)"
    expected = sbom_label(config)
    found = "sha256:" + hashlib.sha256(data).hexdigest()
    if expected and found != expected:
        return None, f"no SBOM ({path} is {found[:19]}..., but the image's {SBOM_LABEL} label names {expected[:19]}...)"
    return data, ""


class RangeReader(io.RawIOBase):
    """``length`` bytes of ``path`` from ``offset``: a blob inside an uncompressed tar, read in place."""

    def __init__(self, path: Path, offset: int, length: int) -> None:
        self.handle: BinaryIO = path.open("rb")
        self.start = offset
        self.length = length
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.length}[whence]
        self.position = min(max(base + offset, 0), self.length)
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        self.handle.seek(self.start + self.position)
        data = self.handle.read(min(len(buffer), self.length - self.position, CHUNK))
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)

    def close(self) -> None:
        self.handle.close()
        super().close()
