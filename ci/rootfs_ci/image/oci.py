"""Write an image ourselves: gzip layer, config, OCI manifest, in one archive both engines load.

The archive is an OCI image layout (oci-layout, index.json, blobs/sha256/...) that also carries
docker's manifest.json, as ``docker save`` writes since Engine 25; Engine 20.10 reads manifest.json.
Same rootfs + same settings -> same bytes -> same config digest, manifest digest and image ID.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from rootfs_ci.arch import architecture
from rootfs_ci.errors import ImageError
from rootfs_ci.fsutil import atomic_output, sha256_file

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"

# Our architecture names -> OCI platform (architecture, variant), from rootfs_ci.arch
DEFAULT_PATH = "PATH=/usr/bin:/usr/sbin:/bin:/sbin"


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def rfc3339(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Blob:
    media_type: str
    digest: str
    size: int

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}

    @property
    def path(self) -> str:
        return f"blobs/sha256/{self.digest.removeprefix('sha256:')}"


@dataclass(frozen=True)
class ImageSettings:
    arch: str
    cmd: Sequence[str]
    ports: Sequence[int]
    labels: Mapping[str, str]
    epoch: int
    created_by: str


@dataclass(frozen=True)
class WrittenImage:
    archive: Path
    config: Blob
    manifest: Blob
    layer: Blob
    diff_id: str
    layer_note: str = ""  # 'reused', or why a cached layer was rebuilt


def _blob(media_type: str, data: bytes) -> Blob:
    return Blob(media_type, "sha256:" + hashlib.sha256(data).hexdigest(), len(data))


GZIP_LEVEL = 6  # gzip's and the engine's default: within 0.5% of level 9's size, three times faster


def compress_layer(rootfs_tar: Path, output: Path) -> Blob:
    """Deterministic gzip: no file name, mtime 0, fixed level."""
    with (
        atomic_output(output) as tmp,
        tmp.open("wb") as raw,
        rootfs_tar.open("rb") as source,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=GZIP_LEVEL) as gz,
    ):
        shutil.copyfileobj(source, gz, 1 << 20)
    return Blob(MEDIA_LAYER_GZIP, "sha256:" + sha256_file(output), output.stat().st_size)


def cached_layer(layer_gz: Path, rootfs_sha256: str) -> Blob | None:
    """The cached gzip layer, if it is a regular file (not a symlink) that unpacks to the rootfs digest.

    None means rebuild: the cache holds derived data whose source (the rootfs tar, checked against
    rootfs.json) is at hand, so a planted or altered entry is simply replaced, never read through.
    """
    try:
        fd = os.open(layer_gz, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:  # missing, or a symlink (ELOOP)
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        packed = hashlib.file_digest(handle, "sha256")
        size = handle.tell()
        handle.seek(0)
        unpacked = hashlib.sha256()
        try:
            with gzip.GzipFile(fileobj=handle, mode="rb") as gz:
                for chunk in iter(lambda: gz.read(1 << 20), b""):
                    unpacked.update(chunk)
        except (OSError, EOFError, zlib.error):
            return None
    if unpacked.hexdigest() != rootfs_sha256:
        return None
    return Blob(MEDIA_LAYER_GZIP, "sha256:" + packed.hexdigest(), size)


def image_config(settings: ImageSettings, diff_id: str) -> dict[str, Any]:
    oci_architecture, variant = architecture(settings.arch).oci_platform
    created = rfc3339(settings.epoch)
    config: dict[str, Any] = {
        "architecture": oci_architecture,
        "os": "linux",
        "created": created,
        "config": {
            "Cmd": list(settings.cmd),
            "Env": [DEFAULT_PATH],
            "Labels": dict(sorted(settings.labels.items())),
            "WorkingDir": "/",
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "created_by": settings.created_by}],
    }
    if settings.ports:
        config["config"]["ExposedPorts"] = {f"{port}/tcp": {} for port in sorted(settings.ports)}
    if variant:
        config["variant"] = variant
    return config


class _HashingReader(io.RawIOBase):
    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        return data


def _add_blob(tar: tarfile.TarFile, blob: Blob, source: Path) -> None:
    """Copy ``source`` in as ``blob``, refusing it (not following a symlink) unless its bytes are that blob."""
    info = tarfile.TarInfo(blob.path)
    info.mtime, info.mode, info.size = 0, 0o644, blob.size
    try:
        handle = os.fdopen(os.open(source, os.O_RDONLY | os.O_NOFOLLOW), "rb")
    except OSError as exc:
        raise ImageError(f"cannot read the layer {source} ({exc.strerror}); run 'invoke image' again") from None
    with handle:
        reader = _HashingReader(handle)
        with contextlib.suppress(OSError):  # shorter than the blob: tarfile's "unexpected end of data"
            tar.addfile(info, reader)
        changed = "sha256:" + reader.digest.hexdigest() != blob.digest or bool(handle.read(1))
    if changed:
        raise ImageError(f"the layer {source} changed while the image archive was written; run 'invoke image' again")


def _add(tar: tarfile.TarFile, name: str, data: bytes | None = None) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = 0
    info.mode = 0o644
    if data is not None:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    else:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tar.addfile(info)


def write_image_archive(
    rootfs_tar: Path,
    rootfs_sha256: str,
    layer_gz: Path,
    archive: Path,
    settings: ImageSettings,
    reference: str,
    *,
    reuse_layer: bool = False,
) -> WrittenImage:
    """Write the loadable archive for ``reference`` (e.g. 'apacheinit:dev'). The gzip layer is written
    to ``layer_gz``; with ``reuse_layer`` an existing file there is used if it unpacks to the rootfs
    digest (a cache whose file names are rootfs digests) and rebuilt if not (see cached_layer)."""
    layer = cached_layer(layer_gz, rootfs_sha256) if reuse_layer else None
    note = "reused" if layer else ""
    if layer is None:
        if reuse_layer and os.path.lexists(layer_gz):
            note = "rebuilt: the cached one was not a plain file unpacking to the rootfs"
        layer = compress_layer(rootfs_tar, layer_gz)
    diff_id = f"sha256:{rootfs_sha256}"
    config_bytes = canonical_json(image_config(settings, diff_id))
    config = _blob(MEDIA_CONFIG, config_bytes)
    manifest_bytes = canonical_json(
        {"schemaVersion": 2, "mediaType": MEDIA_MANIFEST, "config": config.descriptor(), "layers": [layer.descriptor()]}
    )
    manifest = _blob(MEDIA_MANIFEST, manifest_bytes)
    name, _, tag = reference.rpartition(":")
    index = {
        "schemaVersion": 2,
        "mediaType": MEDIA_INDEX,
        "manifests": [
            {
                **manifest.descriptor(),
                "annotations": {
                    "io.containerd.image.name": f"docker.io/library/{reference}" if "/" not in name else reference,
                    "org.opencontainers.image.ref.name": tag,
                },
            }
        ],
    }
    docker_manifest = [{"Config": config.path, "RepoTags": [reference], "Layers": [layer.path]}]
    with atomic_output(archive) as tmp, tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, "blobs")
        _add(tar, "blobs/sha256")
        _add(tar, config.path, config_bytes)
        _add_blob(tar, layer, layer_gz)
        _add(tar, manifest.path, manifest_bytes)
        _add(tar, "index.json", canonical_json(index))
        _add(tar, "manifest.json", canonical_json(docker_manifest))
        _add(tar, "oci-layout", canonical_json({"imageLayoutVersion": "1.0.0"}))
    return WrittenImage(archive, config, manifest, layer, diff_id, note)
