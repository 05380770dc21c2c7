"""invoke diff against a real registry (docker-registry on loopback) and the real engine, with tiny builds
written by the image stage's code; nothing is extracted, nothing is left behind."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import docker
import pytest

from rootfs_ci.diff import diff_image
from rootfs_ci.registry.local import LocalRegistry
from tests.diff_fixtures import publish_build, settings_of, stage_build
from tests.helpers import Project
from tests.registry_fixtures import TINY, write_project

OLD = {"bin/start.sh": b"#!/bin/sh\nold\n", "etc/httpd.conf": b"Listen 80\n"}
NEW = {"bin/start.sh": b"#!/bin/sh\nnew!\n", "etc/httpd.conf": b"Listen 80\n", "etc/mime.types": b"text/html html\n"}


@pytest.fixture
def target(registry_server: LocalRegistry) -> str:
    return f"{registry_server.address}/d{uuid.uuid4().hex[:10]}"


@pytest.fixture
def project(tmp_path: Path, target: str) -> Path:
    return write_project(tmp_path / "project", target=target)


def test_the_latest_release_with_its_attached_sbom(project: Path, target: str, tmp_path: Path) -> None:
    release = stage_build(tmp_path / "release", OLD, {"busybox": "1.35", "libc6": "2.36"}).manifest.digest
    publish_build(target, TINY, tmp_path / "release", ["1.0.0", "latest"], attach_sbom=True)
    stage_build(tmp_path / "older", {"old": b"0"}, {})
    older = publish_build(target, TINY, tmp_path / "older", ["0.9.0"], attach_sbom=False)
    stage_build(tmp_path / "rc", {"rc": b"1"}, {})
    publish_build(target, TINY, tmp_path / "rc", ["1.1.0-rc.1"], attach_sbom=False)
    stage = project / "dist" / TINY / "x86_64"
    stage_build(stage, NEW, {"busybox": "1.36", "libc6": "2.36", "media-types": "10.0.0"})

    report = diff_image(settings_of(project), None, None, None, environ={})

    assert report.before == f"{target}/{TINY}:1.0.0"
    assert report.before_digest == release
    assert [(f.path, f.change) for f in report.files] == [("/bin/start.sh", "changed"), ("/etc/mime.types", "added")]
    assert [(p.name, p.change, p.before, p.after) for p in report.packages.changes] == [
        ("busybox", "changed", "1.35", "1.36"),
        ("media-types", "added", None, "10.0.0"),
    ]
    assert report.sizes[1].before == (tmp_path / "release" / "layer.tar.gz").stat().st_size
    # By digest, the 0.9.0 image has no SBOM attached: the report says so instead of failing.
    older = diff_image(
        settings_of(project), None, None, publish_build(target, TINY, tmp_path / "older", [], attach_sbom=False)
    )
    assert "no SBOM attached" in older.packages.missing[0]


def test_an_unchanged_rebuild_is_identical_to_its_published_tag(project: Path, target: str) -> None:
    stage = project / "dist" / TINY / "x86_64"
    stage_build(stage, OLD, {"busybox": "1.35"})
    publish_build(target, TINY, stage, ["1.0.0"], attach_sbom=True)
    shutil.rmtree(stage)
    stage_build(stage, OLD, {"busybox": "1.35"})  # rebuilt from the same inputs

    result = Project(project).invoke("diff", "--format", "markdown")

    assert result.returncode == 0, result.stderr
    assert f"**identical**: `dist/{TINY}/x86_64` and `{target}/{TINY}:1.0.0` (same digest" in result.stdout


def test_no_release_yet_is_a_note_and_success(project: Path, target: str) -> None:
    stage_build(project / "dist" / TINY / "x86_64", OLD, {})
    result = Project(project).invoke("diff", "--format", "markdown")
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout
        == f"### Image diff\n\n{target}/{TINY} has no release tag (X.Y.Z) yet: nothing to compare against\n"
    )


def test_a_missing_tag_is_one_line(project: Path, target: str) -> None:
    stage_build(project / "dist" / TINY / "x86_64", OLD, {})
    result = Project(project).invoke("diff", "--against", "7.7.7")
    assert result.returncode == 7
    assert result.stderr.strip().splitlines() == [
        f"rootfs-ci: error: {target}/{TINY}:7.7.7 does not exist; check the tag or digest given to --against"
    ]


def test_an_image_missing_from_the_engine_is_one_line(project: Path, unique_tag: str) -> None:
    stage_build(project / "dist" / TINY / "x86_64", OLD, {})
    absent = f"rootfs-ci-absent:{unique_tag}"
    result = Project(project).invoke("diff", "--against", f"docker-image://{absent}")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.strip().splitlines() == [
        f"rootfs-ci: error: image {absent} is not in the engine; build or pull it, or fix --against"
    ]


def test_an_engine_image_read_through_docker_save(project: Path, engine: docker.DockerClient, unique_tag: str) -> None:
    stage = project / "dist" / TINY / "x86_64"
    reference = f"rootfs-ci-diff-test:{unique_tag}"
    stage_build(stage, OLD, {"busybox": "1.35"}, reference=reference)
    old_size = (stage / "rootfs.tar").stat().st_size
    with (stage / "image.tar").open("rb") as archive:
        engine.images.load(archive)
    try:
        stage_build(stage, NEW, {"busybox": "1.35"})
        report = diff_image(settings_of(project), None, None, f"docker-image://{reference}")
    finally:
        engine.images.remove(reference, force=True)
    assert [(f.path, f.change) for f in report.files] == [("/bin/start.sh", "changed"), ("/etc/mime.types", "added")]
    assert report.sizes[0].before == old_size  # docker save gives the layer back byte for byte (its diff_id)
    assert report.sizes[1].before is None  # the engine stores layers uncompressed
    assert "no SBOM" in report.packages.missing[0]
