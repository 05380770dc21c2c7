"""The JSON records each stage writes beside its output, so stages can run in separate jobs.

dist/IMAGE/ARCH/rootfs.json (build) -> image.json (image) -> smoke.json (smoke) -> publish.json
(publish) -> verify.json (verify), and dist/IMAGE/publish-index.json (publish-index). One frozen
dataclass per record; each file also holds ``schema`` (SCHEMA) and ``stage``. Workflows pass these
files between jobs as artifacts, so their keys are an interface: add keys, never rename them, and
bump SCHEMA when a reader could misread an older file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import TypeAdapter, ValidationError

from rootfs_ci.errors import ConfigError
from rootfs_ci.fsutil import write_atomic
from rootfs_ci.validation import dotted

SCHEMA = 1


class Record:
    """A stage record: ``STAGE`` names the stage that writes it, ``FILE`` its file in the stage dir.

    A field whose default is None is left out of the file while it is None.
    """

    STAGE: ClassVar[str]
    FILE: ClassVar[str]


@dataclass(frozen=True)
class RootfsFile:
    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class SbomFile:
    path: str
    sha256: str
    media_type: str
    spec_version: str


@dataclass(frozen=True)
class RootfsRecord(Record):
    STAGE: ClassVar[str] = "build"
    FILE: ClassVar[str] = "rootfs.json"

    tool: str
    image: str
    arch: str
    backend: str
    rootfs: RootfsFile
    source_date_epoch: int
    overlays: tuple[str, ...]
    packages: tuple[dict[str, Any], ...]  # per backend: Debian .debs or Buildroot packages
    sbom: SbomFile
    labels: dict[str, str]  # for the image stage: the SBOM's digest travels with the image
    buildroot: dict[str, Any] | None = None  # the Buildroot backend's build details
    lock_digest: str | None = None  # "sha256:HEX" of the lock file section the build used


@dataclass(frozen=True)
class Layer:
    digest: str
    size: int
    diff_id: str


@dataclass(frozen=True)
class ImageRecord(Record):
    STAGE: ClassVar[str] = "image"
    FILE: ClassVar[str] = "image.json"

    image: str
    arch: str
    reference: str
    image_id: str
    config_digest: str
    manifest_digest: str
    layer: Layer
    rootfs_sha256: str
    rootfs_size: int
    labels: dict[str, str]


@dataclass(frozen=True)
class CheckResult:
    """One smoke check, as the console table, JUnit and smoke.json show it."""

    section: str
    name: str
    passed: bool
    seconds: float
    expected: str = ""
    got: str = ""


@dataclass(frozen=True)
class SmokeRecord(Record):
    STAGE: ClassVar[str] = "smoke"
    FILE: ClassVar[str] = "smoke.json"

    image: str
    arch: str
    reference: str
    image_id: str
    manifest_digest: str | None  # None: no image.json of this image (e.g. an image from elsewhere)
    passed: bool
    checks: tuple[CheckResult, ...]


@dataclass(frozen=True)
class PushedBlobs:
    uploaded: tuple[str, ...]
    existing: tuple[str, ...]


@dataclass(frozen=True)
class PublishRecord(Record):
    STAGE: ClassVar[str] = "publish"
    FILE: ClassVar[str] = "publish.json"

    image: str
    arch: str
    registry: str
    repository: str
    reference: str
    manifest_digest: str
    tags: tuple[str, ...]
    blobs: PushedBlobs


@dataclass(frozen=True)
class VerifyRecord(Record):
    STAGE: ClassVar[str] = "verify"
    FILE: ClassVar[str] = "verify.json"

    image: str
    arch: str
    reference: str
    manifest_digest: str
    image_id: str
    smoke_passed: bool
    checks: int


@dataclass(frozen=True)
class IndexMember:
    arch: str
    platform: str
    digest: str
    size: int


@dataclass(frozen=True)
class IndexRecord(Record):
    STAGE: ClassVar[str] = "publish-index"
    FILE: ClassVar[str] = "publish-index.json"

    image: str
    registry: str
    repository: str
    reference: str
    digest: str
    tags: tuple[str, ...]
    manifests: tuple[IndexMember, ...]


R = TypeVar("R", bound=Record)


_ADAPTERS: dict[type[Record], TypeAdapter[Any]] = {}


def _adapter(kind: type[Record]) -> TypeAdapter[Any]:
    """pydantic's reader and writer of ``kind`` (built once: building one takes milliseconds)."""
    if kind not in _ADAPTERS:
        _ADAPTERS[kind] = TypeAdapter(kind)
    return _ADAPTERS[kind]


def stage_dir(dist_dir: Path, image: str, arch: str) -> Path:
    return dist_dir / image / arch


def as_json(record: Record) -> dict[str, Any]:
    """The record as its file holds it."""
    data: dict[str, Any] = _adapter(type(record)).dump_python(record, mode="json")
    for field in fields(record):  # type: ignore[arg-type]  # every Record is a dataclass
        if field.default is None and data[field.name] is None:
            del data[field.name]
    return {"schema": SCHEMA, "stage": record.STAGE, **data}


def write_record(path: Path, record: Record) -> None:
    write_atomic(path, (json.dumps(as_json(record), indent=2, sort_keys=True) + "\n").encode())


def read_record(path: Path, kind: type[R], produced_by: str) -> R:
    """Read a ``kind`` record; a missing, unreadable, foreign or malformed one is one line naming the
    command that writes it (``produced_by``)."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist; run '{produced_by}' first") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} is unreadable ({exc}); run '{produced_by}' again") from None
    again = f"rebuild with this rootfs-ci: {produced_by}"
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a record; {again}")
    if data.get("schema") != SCHEMA:
        raise ConfigError(
            f"{path} was written by another rootfs-ci version (record schema {data.get('schema', 'none')}, "
            f"this one reads {SCHEMA}); {again}"
        )
    if data.get("stage") != kind.STAGE:
        raise ConfigError(f"{path} is a {data.get('stage')!r} record, not a {kind.STAGE!r} one; {again}")
    try:
        record: R = _adapter(kind).validate_json(text, strict=True)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise ConfigError(f"{path} is malformed ({dotted(error['loc'])}: {error['msg']}); {again}") from None
    return record
