"""Stage records: one typed reader and writer, a schema version in each file, one line for a foreign file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rootfs_ci.errors import ConfigError
from rootfs_ci.records import (
    SCHEMA,
    CheckResult,
    ImageRecord,
    Layer,
    RootfsFile,
    RootfsRecord,
    SbomFile,
    SmokeRecord,
    as_json,
    read_record,
    write_record,
)

AGAIN = "invoke image --image tiny --arch x86_64"
DIGEST = "sha256:" + "a" * 64

IMAGE = ImageRecord(
    image="tiny",
    arch="x86_64",
    reference="tiny:dev",
    image_id=DIGEST,
    config_digest=DIGEST,
    manifest_digest="sha256:" + "b" * 64,
    layer=Layer(digest="sha256:" + "c" * 64, size=123, diff_id="sha256:" + "d" * 64),
    rootfs_sha256="d" * 64,
    rootfs_size=10240,
    labels={"org.opencontainers.image.version": "1.0.0"},
)


def rootfs_record(buildroot: dict[str, str] | None) -> RootfsRecord:
    return RootfsRecord(
        tool="rootfs-ci 1.0.0",
        image="tiny",
        arch="x86_64",
        backend="buildroot" if buildroot else "debian",
        rootfs=RootfsFile(path="rootfs.tar", sha256="d" * 64, size=10240),
        source_date_epoch=0,
        overlays=("overlay",),
        packages=({"name": "busybox", "version": "1:1.36.1-9", "used": True},),
        sbom=SbomFile(
            path="sbom.json", sha256="e" * 64, media_type="application/vnd.cyclonedx+json", spec_version="1.6"
        ),
        labels={"org.rootfs-ci.sbom": "sha256:" + "e" * 64},
        buildroot=buildroot,
    )


def test_a_record_round_trips_with_its_schema_and_stage(tmp_path: Path) -> None:
    path = tmp_path / "image.json"
    write_record(path, IMAGE)
    data = json.loads(path.read_text())
    assert (data["schema"], data["stage"]) == (SCHEMA, "image")
    assert data["layer"] == {"digest": IMAGE.layer.digest, "size": 123, "diff_id": IMAGE.layer.diff_id}
    assert data == as_json(IMAGE)
    assert read_record(path, ImageRecord, AGAIN) == IMAGE


def test_keys_stay_what_the_workflows_pass_between_jobs(tmp_path: Path) -> None:
    """The existing keys stay; a field whose default is None is left out while None, other Nones stay null."""
    debian = as_json(rootfs_record(None))
    assert sorted(debian) == [
        "arch", "backend", "image", "labels", "overlays", "packages", "rootfs", "sbom", "schema",
        "source_date_epoch", "stage", "tool",
    ]  # fmt: skip
    assert as_json(rootfs_record({"commit": "0" * 40}))["buildroot"] == {"commit": "0" * 40}
    smoke = SmokeRecord("tiny", "x86_64", "tiny:dev", DIGEST, None, False, (CheckResult("http", "GET /", False, 0.5),))
    written = as_json(smoke)
    assert written["manifest_digest"] is None
    assert written["checks"] == [
        {"section": "http", "name": "GET /", "passed": False, "seconds": 0.5, "expected": "", "got": ""}
    ]
    path = tmp_path / "smoke.json"
    write_record(path, smoke)
    assert read_record(path, SmokeRecord, "invoke smoke") == smoke


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda data: data.pop("schema"),
            "was written by another rootfs-ci version (record schema none, this one reads 1)",
        ),
        (
            lambda data: data.update(schema=SCHEMA + 1),
            f"was written by another rootfs-ci version (record schema {SCHEMA + 1}, this one reads 1)",
        ),
        (lambda data: data.update(stage="smoke"), "is a 'smoke' record, not a 'image' one"),
        (lambda data: data["layer"].pop("size"), "is malformed (layer.size: Field required)"),
        (lambda data: data.update(rootfs_size="10240"), "is malformed (rootfs_size: Input should be a valid integer)"),
    ],
    ids=["no schema", "newer schema", "another stage", "missing field", "wrong type"],
)
def test_a_foreign_or_malformed_record_is_one_line(tmp_path: Path, change, message: str) -> None:
    path = tmp_path / "image.json"
    data = as_json(IMAGE)
    change(data)
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as caught:
        read_record(path, ImageRecord, AGAIN)
    assert str(caught.value) == f"{path} {message}; rebuild with this rootfs-ci: {AGAIN}"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist; run '{again}' first"),
        ("{not json", "is unreadable (Expecting property name enclosed in double quotes: line 1 column 2 (char 1)); "
         "run '{again}' again"),
        ("[1, 2]", "is not a record; rebuild with this rootfs-ci: {again}"),
    ],
    ids=["missing", "not JSON", "not an object"],
)  # fmt: skip
def test_missing_and_unreadable_records_name_the_command(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "image.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as caught:
        read_record(path, ImageRecord, AGAIN)
    assert str(caught.value) == f"{path} {message.format(again=AGAIN)}"
