"""publish --by-digest and publish-index against a real registry and the real engine, with tiny per-arch images.

The image and smoke records of the tiny images are written as those stages write them
(tests/registry_fixtures.py); tests/integration/test_act.py runs the same flow through the workflows.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import docker
import pytest

from rootfs_ci.config import DEFAULT_TAG_RULES
from rootfs_ci.errors import ConfigError, RegistryError
from rootfs_ci.image.oci import MEDIA_INDEX, MEDIA_MANIFEST
from rootfs_ci.publishing.multiarch import publish_index
from rootfs_ci.publishing.policy import resolve_tags
from rootfs_ci.publishing.publish import publish
from rootfs_ci.records import IndexRecord, PublishRecord, as_json
from rootfs_ci.registry.client import RegistryClient
from rootfs_ci.registry.local import LocalRegistry
from rootfs_ci.registry.referrers import list_referrers
from rootfs_ci.registry.repository import Repository
from rootfs_ci.registry.target import parse_target
from rootfs_ci.tags import compute_tags
from tests.helpers import Project
from tests.integration.test_publish import settings_of
from tests.registry_fixtures import TINY, stage_tiny_image, write_project

SHA = "0123456789abcdef0123456789abcdef01234567"
REF = "refs/tags/v1.2.3"
ARCHES = ("x86_64", "aarch64")
PLATFORMS = {
    "x86_64": {"architecture": "amd64", "os": "linux"},
    "aarch64": {"architecture": "arm64", "os": "linux", "variant": "v8"},
}


@pytest.fixture
def target(registry_server: LocalRegistry) -> str:
    return f"{registry_server.address}/t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def project(tmp_path: Path, target: str) -> Project:
    return Project(write_project(tmp_path / "project", target=target))


def repository(target: str) -> Repository:
    parsed = parse_target(target)
    return Repository(RegistryClient(parsed), parsed.repository(TINY))


def errors(result: subprocess.CompletedProcess[str]) -> list[str]:
    """stderr without progress lines: what the user is told went wrong."""
    return [line for line in result.stderr.splitlines() if not line.startswith("[")]


def by_digest(project: Project, arch: str) -> dict[str, Any]:
    result = project.invoke("publish", "--arch", arch, "--by-digest")
    assert result.returncode == 0, result.stderr
    return json.loads((project.path / "dist" / TINY / arch / "publish.json").read_text())


def stage_both(project: Project, content: bytes) -> dict[str, str]:
    return {arch: stage_tiny_image(project.path, content, arch=arch).manifest.digest for arch in ARCHES}


def config_digests(project: Project) -> dict[str, str]:
    return {
        arch: json.loads((project.path / "dist" / TINY / arch / "image.json").read_text())["config_digest"]
        for arch in ARCHES
    }


def test_publish_by_digest_pushes_the_manifest_and_no_tag(project: Project, target: str, tmp_path: Path) -> None:
    digest = stage_tiny_image(project.path, b"by digest").manifest.digest
    output = tmp_path / "github_output"
    result = project.invoke("publish", "--by-digest", env={"GITHUB_OUTPUT": str(output)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"published {target}/{TINY}@{digest}", "tags: none (by digest)"]
    record = json.loads((project.path / "dist" / TINY / "x86_64" / "publish.json").read_text())
    assert (record["manifest_digest"], record["tags"]) == (digest, [])
    repo = repository(target)
    assert repo.tags() == []
    found = repo.head_manifest(digest)
    assert found is not None and found.digest == digest
    assert f"digest={digest}\ntags=\n" in output.read_text()


def test_by_digest_and_tags_do_not_mix(project: Project, target: str) -> None:
    stage_tiny_image(project.path, b"no mix")
    result = project.invoke("publish", "--by-digest", "--ref", REF)
    assert result.returncode == 2
    assert errors(result) == [
        "rootfs-ci: error: --by-digest pushes no tags, so --ref and --sha do not apply; drop them"
    ]
    with pytest.raises(ConfigError, match="a push by digest applies no tags"):
        publish(settings_of(project.path), TINY, None, None, ["1.0.0"], by_digest=True, environ={})
    assert repository(target).tags() == []
    assert not (project.path / "dist" / TINY / "x86_64" / "publish.json").exists()


def test_publish_index_merges_the_architectures_and_tags_the_index(
    project: Project, target: str, tmp_path: Path, engine: docker.DockerClient
) -> None:
    digests = stage_both(project, b"index pull " + uuid.uuid4().bytes)
    configs = config_digests(project)
    for arch in ARCHES:
        assert by_digest(project, arch)["manifest_digest"] == digests[arch]
    output = tmp_path / "github_output"
    result = project.invoke("publish-index", "--ref", REF, "--sha", SHA, env={"GITHUB_OUTPUT": str(output)})
    assert result.returncode == 0, result.stderr
    record = json.loads((project.path / "dist" / TINY / "publish-index.json").read_text())
    expected_tags = compute_tags(REF, SHA, DEFAULT_TAG_RULES, ())
    assert record["tags"] == expected_tags
    assert {"1.2.3", "1.2", "1", "latest"} <= set(expected_tags)
    assert result.stdout.splitlines() == [
        f"published index {target}/{TINY}@{record['digest']}",
        f"platforms: linux/amd64 {digests['x86_64'][:19]}..., linux/arm64/v8 {digests['aarch64'][:19]}...",
        f"tags: {' '.join(expected_tags)}",
    ]
    assert f"digest={record['digest']}\ntags={','.join(expected_tags)}\n" in output.read_text()

    repo = repository(target)
    assert sorted(repo.tags()) == sorted(expected_tags)
    body, info = repo.get_manifest("1.2.3")
    assert info.digest == record["digest"]
    index = json.loads(body)
    assert index["mediaType"] == MEDIA_INDEX
    assert [(m["mediaType"], m["digest"], m["platform"]) for m in index["manifests"]] == [
        (MEDIA_MANIFEST, digests[arch], PLATFORMS[arch]) for arch in ARCHES
    ]
    for entry in index["manifests"]:
        assert entry["size"] == len(repo.get_manifest(entry["digest"])[0])
    # Each platform's manifest carries its own SBOM and provenance; the index itself none.
    listed = project.invoke("attestations", "--tag", "1.2.3")
    assert listed.returncode == 0, listed.stderr
    kinds = [line.split()[0] for line in listed.stdout.splitlines()]
    sbom, provenance = "application/vnd.cyclonedx+json", "application/vnd.in-toto+json"
    assert kinds == ["linux/amd64", sbom, provenance, "linux/arm64/v8", sbom, provenance]
    assert list_referrers(repo, record["digest"]) == []

    # Same inputs, same index: running it again pushes the identical digest (version tags allow that).
    again = project.invoke("publish-index", "--ref", REF, "--sha", SHA)
    assert again.returncode == 0, again.stderr
    assert json.loads((project.path / "dist" / TINY / "publish-index.json").read_text())["digest"] == record["digest"]

    reference = f"{target}/{TINY}:1.2.3"
    try:
        for platform, arch in (("linux/arm64", "aarch64"), ("linux/amd64", "x86_64")):
            pulled = subprocess.run(
                ["docker", "pull", "--platform", platform, reference], capture_output=True, text=True, check=False
            )
            assert pulled.returncode == 0, pulled.stderr
            image = engine.images.get(reference)
            # The engine picked that platform's image from the index: exactly the config we pushed for it.
            assert image.id == configs[arch]
            assert image.attrs["Architecture"] == PLATFORMS[arch]["architecture"]
    finally:
        # The first pull's image keeps the index digest reference after the tag moved to the second one.
        for name in (reference, f"{target}/{TINY}@{record['digest']}", *configs.values()):
            subprocess.run(["docker", "rmi", name], capture_output=True, check=False)


def merge(project: Project, ref: str, *, digests: tuple[str, ...] = (), registry: str | None = None) -> IndexRecord:
    settings = settings_of(project.path)
    return publish_index(settings, TINY, registry, resolve_tags(settings, ref, None), digests=digests, environ={})


def push_by_digest(project: Project, arch: str) -> PublishRecord:
    return publish(settings_of(project.path), TINY, arch, None, [], by_digest=True, environ={})


def test_digest_arguments_give_the_same_index(project: Project, target: str) -> None:
    digests = stage_both(project, b"explicit")
    for arch in ARCHES:
        push_by_digest(project, arch)
    from_records = merge(project, "refs/heads/main")
    for arch in ARCHES:
        (project.path / "dist" / TINY / arch / "publish.json").unlink()
    explicit = merge(
        project, "refs/heads/main", digests=(f"aarch64={digests['aarch64']}", f"x86_64={digests['x86_64']}")
    )
    assert explicit.digest == from_records.digest
    assert [m.digest for m in explicit.manifests] == [digests[arch] for arch in ARCHES]
    assert sorted(repository(target).tags()) == sorted(from_records.tags)


def test_refusals_are_one_line_and_push_nothing(project: Project, target: str) -> None:
    index_record = project.path / "dist" / TINY / "publish-index.json"
    nothing = project.invoke("publish-index", "--ref", REF)
    assert nothing.returncode == 2
    assert errors(nothing) == [
        f"rootfs-ci: error: no {project.path}/dist/{TINY}/*/publish.json: push each architecture first with "
        f"'invoke publish --image {TINY} --arch ARCH --by-digest', or pass --digest ARCH=DIGEST"
    ]
    digests = stage_both(project, b"first")
    push_by_digest(project, "x86_64")
    published = push_by_digest(project, "aarch64")
    restaged = stage_tiny_image(project.path, b"changed after publish", arch="aarch64").manifest.digest
    stale = project.invoke("publish-index", "--ref", REF)
    assert stale.returncode == 6
    assert errors(stale) == [
        f"rootfs-ci: error: {project.path}/dist/{TINY}/aarch64/publish.json names {published.manifest_digest}, "
        f"but the smoke-tested {TINY}/aarch64 is {restaged}; "
        f"run 'invoke publish --image {TINY} --arch aarch64 --registry {target} --by-digest'"
    ]
    with pytest.raises(ConfigError, match=f"{TINY}/x86_64 was published to {target}/{TINY}, not {target}-other/{TINY}"):
        merge(project, REF, registry=f"{target}-other")
    for bad, error, message in (
        ("aarch64=abc", ConfigError, "--digest 'aarch64=abc' is not ARCH=sha256:<64 hex digits>"),
        (f"mips={digests['x86_64']}", ConfigError, "architecture 'mips' is not in this image's platforms"),
        (f"x86_64={'sha256:' + '0' * 64}", RegistryError, f"lacks manifest sha256:{'0' * 64} (x86_64)"),
    ):
        with pytest.raises(error) as caught:
            merge(project, REF, digests=(bad,))
        assert message in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match="--digest names x86_64 twice"):
        merge(project, REF, digests=(f"x86_64={digests['x86_64']}", f"x86_64={digests['x86_64']}"))
    assert repository(target).tags() == []
    assert not index_record.exists()


def test_an_index_version_tag_is_immutable(project: Project, target: str) -> None:
    stage_both(project, b"release one")
    for arch in ARCHES:
        push_by_digest(project, arch)
    released = merge(project, REF)
    stage_tiny_image(project.path, b"release one, rebuilt differently", arch="aarch64")
    push_by_digest(project, "aarch64")
    second = project.invoke("publish-index", "--ref", REF)
    assert second.returncode == 7
    assert len(errors(second)) == 1
    assert f"already has version tag 1.2.3 -> {released.digest}" in errors(second)[0]
    assert "version tags are immutable" in errors(second)[0]
    repo = repository(target)
    for tag in ("1.2.3", "1.2", "1"):
        found = repo.head_manifest(tag)
        assert found is not None and found.digest == released.digest
    assert json.loads((project.path / "dist" / TINY / "publish-index.json").read_text()) == as_json(released)
