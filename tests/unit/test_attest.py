"""The provenance statement (pure: records + project + environment in, canonical bytes out) and redaction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rootfs_ci.attest.provenance import Source, build_source, statement, statement_bytes
from rootfs_ci.errors import ConfigError
from rootfs_ci.records import ImageRecord, Layer, RootfsFile, RootfsRecord, SbomFile
from rootfs_ci.redaction import redact
from rootfs_ci.registry.target import parse_target

DIGEST = "sha256:" + "ab" * 32


def rootfs_record(**changes: object) -> RootfsRecord:
    fields: dict = {
        "tool": "rootfs-ci 1.0.0",
        "image": "app",
        "arch": "aarch64",
        "backend": "buildroot",
        "rootfs": RootfsFile("rootfs.tar", "cd" * 32, 10),
        "source_date_epoch": 1700000000,
        "overlays": ("overlay",),
        "packages": (),
        "sbom": SbomFile("sbom.json", "ef" * 32, "application/vnd.cyclonedx+json", "1.6"),
        "labels": {},
        "buildroot": {"version": "2026.02.3", "commit": "9" * 40, "defconfig": "configs/app_defconfig"}
        | {"defconfig_sha256": "12" * 32},
    }
    return RootfsRecord(**(fields | changes))


def image_record(labels: dict[str, str]) -> ImageRecord:
    return ImageRecord("app", "aarch64", "app:dev", DIGEST, DIGEST, DIGEST, Layer(DIGEST, 1, DIGEST), "", 0, labels)


def test_statement_is_reproducible_and_names_every_input(tmp_path: Path) -> None:
    (tmp_path / "overlay" / "etc").mkdir(parents=True)
    (tmp_path / "overlay" / "etc" / "motd").write_text("hi\n")
    source = Source("https://example.invalid/app", "7" * 40)
    first = statement_bytes(statement("reg/app", DIGEST, rootfs_record(), tmp_path, source))
    assert statement_bytes(statement("reg/app", DIGEST, rootfs_record(), tmp_path, source)) == first
    document = json.loads(first)
    definition = document["predicate"]["buildDefinition"]
    names = [dep.get("name", dep.get("uri")) for dep in definition["resolvedDependencies"]]
    git = f"git+https://example.invalid/app@{'7' * 40}"
    assert names == [git, "defconfig:configs/app_defconfig", "overlay:overlay", "rootfs.tar"]
    assert definition["internalParameters"]["buildroot"] == {"version": "2026.02.3", "commit": "9" * 40}
    assert document["predicate"]["runDetails"]["metadata"] == {}  # no wall-clock time, no CI run here
    (tmp_path / "overlay" / "etc" / "motd").write_text("changed\n")
    changed = json.loads(statement_bytes(statement("reg/app", DIGEST, rootfs_record(), tmp_path, source)))
    assert changed["predicate"]["buildDefinition"]["resolvedDependencies"][2] != definition["resolvedDependencies"][2]


def test_lock_digest_is_a_parameter_when_the_record_has_one(tmp_path: Path) -> None:
    (tmp_path / "overlay").mkdir()
    record = rootfs_record(backend="debian", buildroot=None)
    object.__setattr__(record, "lock_digest", "sha256:" + "34" * 32)  # the optional field issue #15 adds
    document = statement("reg/app", DIGEST, record, tmp_path, Source("", ""))
    assert document["predicate"]["buildDefinition"]["internalParameters"]["lock_digest"] == "sha256:" + "34" * 32
    with pytest.raises(ConfigError, match=r"overlay 'overlay' that rootfs\.json names is not under"):
        statement("reg/app", DIGEST, record, tmp_path / "elsewhere", Source("", ""))


def test_source_prefers_the_image_labels_then_github(tmp_path: Path) -> None:
    github = {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "o/r", "GITHUB_SHA": "1" * 40, "GITHUB_RUN_ID": "5"}
    from_github = build_source(image_record({}), tmp_path, github)
    assert from_github == Source("https://github.com/o/r", "1" * 40, "https://github.com/o/r/actions/runs/5/attempts/1")
    labelled = image_record({"org.opencontainers.image.revision": "2" * 40})
    assert build_source(labelled, tmp_path, github).commit == "2" * 40
    assert build_source(image_record({}), tmp_path, {}) == Source("", "")  # not a git checkout, no CI


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("pushing to user:s3cret@ghcr.io/o", "pushing to ***@ghcr.io/o"),
        ("https://tok3n@ghcr.io/o and 'a:b@c'", "https://***@ghcr.io/o and '***@c'"),
        ("ghcr.io/o/app:1.0.0@sha256:00 stays", "ghcr.io/o/app:1.0.0@sha256:00 stays"),
        ("127.0.0.1:5000/t/app@sha256:00", "127.0.0.1:5000/t/app@sha256:00"),
    ],
)
def test_redact(text: str, shown: str) -> None:
    assert redact(text) == shown


@pytest.mark.parametrize("value", ["u:p@ss@ghcr.io/o", "https://u:s3cret@127.0.0.1:5000", "tok3n@ghcr.io"])
def test_a_target_with_credentials_is_refused_without_them(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_target(value)
    message = str(caught.value)
    assert "holds credentials" in message
    assert not any(secret in message for secret in ("p@ss", "s3cret", "tok3n", "u:"))
