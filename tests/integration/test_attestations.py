"""Attestations against the real registry: publish attaches the SBOM and the SLSA provenance as referrers
(the referrers tag schema, on Debian's docker-registry), verify checks them, a tampered one is one line."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pytest
import requests

from rootfs_ci.attest.check import check_attestations
from rootfs_ci.attest.provenance import PREDICATE_TYPE, STATEMENT_TYPE
from rootfs_ci.errors import ImageError, RegistryError
from rootfs_ci.image.oci import MEDIA_MANIFEST, WrittenImage
from rootfs_ci.publishing.publish import publish
from rootfs_ci.registry.client import RegistryClient
from rootfs_ci.registry.local import LocalRegistry
from rootfs_ci.registry.referrers import ArtifactBlob, Descriptor, push_artifact, referrers_tag
from rootfs_ci.registry.repository import Repository
from rootfs_ci.registry.target import parse_target
from tests.helpers import Project
from tests.registry_fixtures import TINY, project_settings, stage_tiny_image, write_project

SBOM = "application/vnd.cyclonedx+json"
PROVENANCE = "application/vnd.in-toto+json"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
GITHUB = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_REPOSITORY": "octo/images",
    "GITHUB_SHA": COMMIT,
    "GITHUB_RUN_ID": "42",
    "GITHUB_WORKFLOW_REF": "octo/images/.github/workflows/ci.yml@refs/tags/v1.0.0",
}


@pytest.fixture
def published(tmp_path: Path, registry_server: LocalRegistry) -> tuple[Path, str, WrittenImage]:
    """A tiny image staged in a project and published (tag 1.0.0) to a fresh namespace, as in GitHub."""
    target = f"{registry_server.address}/a{uuid.uuid4().hex[:10]}"
    project = write_project(tmp_path / "project", target=target)
    written = stage_tiny_image(project, target.encode())
    publish(project_settings(project), TINY, None, None, None, environ=GITHUB)
    return project, target, written


def repository(target: str) -> Repository:
    parsed = parse_target(target)
    return Repository(RegistryClient(parsed), parsed.repository(TINY), push=True)


def tag_index(registry: LocalRegistry, target: str, digest: str) -> list[dict]:
    """The referrers tag's index, read with plain HTTP as any client would."""
    path = f"{target.partition('/')[2]}/{TINY}/manifests/{referrers_tag(digest)}"
    answer = requests.get(
        f"{registry.url}/v2/{path}", headers={"Accept": "application/vnd.oci.image.index.v1+json"}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["manifests"])


def test_publish_attaches_sbom_and_provenance(
    published: tuple[Path, str, WrittenImage], registry_server: LocalRegistry
) -> None:
    project, target, written = published
    digest = written.manifest.digest
    first = tag_index(registry_server, target, digest)
    assert [entry["artifactType"] for entry in first] == [SBOM, PROVENANCE]
    publish(project_settings(project), TINY, None, None, None, environ=GITHUB)  # again: same bytes, listed once
    assert tag_index(registry_server, target, digest) == first
    repo = repository(target)
    sbom_bytes = (project / "dist" / TINY / "x86_64" / "sbom.json").read_bytes()
    checked = check_attestations(repo, digest, "sha256:" + hashlib.sha256(sbom_bytes).hexdigest(), COMMIT)
    assert [item.descriptor.digest for item in checked] == [entry["digest"] for entry in first]
    statement = json.loads(repo.get_blob(_layer(repo, first[1]["digest"]), 1 << 20))
    assert statement["_type"] == STATEMENT_TYPE and statement["predicateType"] == PREDICATE_TYPE
    assert statement["subject"] == [{"name": f"{target}/{TINY}", "digest": {"sha256": digest.removeprefix("sha256:")}}]
    definition = statement["predicate"]["buildDefinition"]
    assert definition["externalParameters"]["source"] == {
        "repository": "https://github.com/octo/images",
        "commit": COMMIT,
    }
    rootfs = json.loads((project / "dist" / TINY / "x86_64" / "rootfs.json").read_text())
    assert {"name": "rootfs.tar", "digest": {"sha256": rootfs["rootfs"]["sha256"]}} in definition[
        "resolvedDependencies"
    ]
    run = statement["predicate"]["runDetails"]
    assert run["metadata"] == {"invocationId": "https://github.com/octo/images/actions/runs/42/attempts/1"}
    assert run["byproducts"][0]["digest"] == {"sha256": hashlib.sha256(sbom_bytes).hexdigest()}
    with pytest.raises(RegistryError, match=f"provenance artifact {first[1]['digest']} names commit {COMMIT}, not"):
        check_attestations(repo, digest, "sha256:" + hashlib.sha256(sbom_bytes).hexdigest(), "f" * 40)


def _layer(repo: Repository, artifact: str) -> str:
    body, _ = repo.get_manifest(artifact)
    return str(json.loads(body)["layers"][0]["digest"])


def test_verify_names_a_tampered_sbom_in_one_line(published: tuple[Path, str, WrittenImage]) -> None:
    project, target, written = published
    listing = Project(project).invoke("attestations", "--tag", "1.0.0")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0] == written.manifest.digest
    assert [line.split()[0] for line in lines[1:]] == [SBOM, PROVENANCE]
    subject = Descriptor(MEDIA_MANIFEST, written.manifest.digest, written.manifest.size)
    forged = push_artifact(repository(target), subject, SBOM, [ArtifactBlob(SBOM, b'{"bomFormat":"CycloneDX"}')])
    result = Project(project).invoke("verify", "--tag", "1.0.0", "--commit", COMMIT)
    assert result.returncode == 7
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if not line.startswith("[")]
    assert len(errors) == 1
    assert errors[0].startswith(f"rootfs-ci: error: SBOM artifact {forged.digest} holds sha256:")
    assert "not the SBOM of the smoke-tested build" in errors[0]
    assert not (project / "dist" / TINY / "x86_64" / "verify.json").exists()


def test_an_sbom_that_is_not_the_images_is_refused_before_anything_is_pushed(
    tmp_path: Path, registry_server: LocalRegistry
) -> None:
    target = f"{registry_server.address}/a{uuid.uuid4().hex[:10]}"
    project = write_project(tmp_path / "project", target=target)
    stage_tiny_image(project, b"sbom swapped")
    (project / "dist" / TINY / "x86_64" / "sbom.json").write_text('{"bomFormat":"CycloneDX"}')
    with pytest.raises(ImageError, match=r"sbom\.json is sha256:[0-9a-f]{64}, but rootfs\.json names the SBOM"):
        publish(project_settings(project), TINY, None, None, None, environ={})
    assert repository(target).tags(referrers=True) == []
    assert not (project / "dist" / TINY / "x86_64" / "publish.json").exists()
