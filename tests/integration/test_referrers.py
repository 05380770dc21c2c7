"""Referrers: artifacts with a ``subject``, pushed and listed through one code path.

Debian's docker-registry 2.8 has no referrers API (it answers 404), so against it the referrers tag
schema runs; the API path runs against tests/fakeregistry.ReferrersRegistry, which answers as a
distribution spec 1.1 registry does (OCI-Subject on PUT, GET /referrers/ with artifactType).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from rootfs_ci.errors import RegistryError
from rootfs_ci.image.layout import read_layout
from rootfs_ci.image.oci import MEDIA_MANIFEST
from rootfs_ci.registry.client import RegistryClient
from rootfs_ci.registry.local import LocalRegistry
from rootfs_ci.registry.push import push_image
from rootfs_ci.registry.referrers import (
    ArtifactBlob,
    Descriptor,
    fetch_artifact,
    fetch_blob,
    list_referrers,
    push_artifact,
    referrers_tag,
)
from rootfs_ci.registry.repository import Repository
from rootfs_ci.registry.target import parse_target
from tests.fakeregistry import FakeServer, ReferrersRegistry
from tests.registry_fixtures import write_tiny_image

SBOM = "application/vnd.cyclonedx+json"
PROVENANCE = "application/vnd.in-toto+json"


@pytest.fixture
def fake_referrers() -> Iterator[tuple[FakeServer, ReferrersRegistry]]:
    registry = ReferrersRegistry()
    with FakeServer(registry.answer) as fake:
        yield fake, registry


def _pushed_subject(repository: Repository, tmp_path: Path) -> Descriptor:
    image = read_layout(write_tiny_image(tmp_path, b"subject").archive)
    push_image(repository, image, ["1.0.0"])
    return Descriptor(MEDIA_MANIFEST, image.manifest_digest, len(image.manifest))


def _attach_two(repository: Repository, subject: Descriptor) -> tuple[Descriptor, Descriptor]:
    sbom = push_artifact(repository, subject, SBOM, [ArtifactBlob(SBOM, b'{"bomFormat":"CycloneDX"}')], {"k": "v"})
    statement = push_artifact(repository, subject, PROVENANCE, [ArtifactBlob(PROVENANCE, b'{"_type":"x"}')])
    return sbom, statement


def _check_listing(repository: Repository, subject: Descriptor, sbom: Descriptor, statement: Descriptor) -> None:
    assert {d.digest for d in list_referrers(repository, subject.digest)} == {sbom.digest, statement.digest}
    (only,) = list_referrers(repository, subject.digest, SBOM)
    assert only == sbom and only.annotations == {"k": "v"} and only.artifact_type == SBOM
    artifact = fetch_artifact(repository, only)
    assert artifact.subject == subject.digest
    assert fetch_blob(repository, artifact.layers[0]) == b'{"bomFormat":"CycloneDX"}'
    assert list_referrers(repository, "sha256:" + "0" * 64) == []


def test_tag_schema_on_debian_registry(registry_server: LocalRegistry, repo_name: str, tmp_path: Path) -> None:
    with RegistryClient(parse_target(registry_server.address)) as client:
        repository = Repository(client, repo_name, push=True)
        subject = _pushed_subject(repository, tmp_path)
        sbom, statement = _attach_two(repository, subject)
        assert _attach_two(repository, subject) == (sbom, statement)  # idempotent: listed once each
        _check_listing(repository, subject, sbom, statement)
        assert referrers_tag(subject.digest) in repository.tags()
    # What a plain HTTP client sees: the API answers 404, the tag holds the index.
    base = f"{registry_server.url}/v2/{repo_name}"
    assert requests.get(f"{base}/referrers/{subject.digest}", timeout=10).status_code == 404
    index = requests.get(
        f"{base}/manifests/{referrers_tag(subject.digest)}",
        headers={"Accept": "application/vnd.oci.image.index.v1+json"},
        timeout=10,
    ).json()
    assert [(e["artifactType"], e["digest"]) for e in index["manifests"]] == [
        (SBOM, sbom.digest),
        (PROVENANCE, statement.digest),
    ]


def test_referrers_api_when_the_registry_has_it(
    fake_referrers: tuple[FakeServer, ReferrersRegistry], tmp_path: Path
) -> None:
    fake, registry = fake_referrers
    with RegistryClient(parse_target(fake.address)) as client:
        repository = Repository(client, "test/api", push=True)
        subject = _pushed_subject(repository, tmp_path)
        sbom, statement = _attach_two(repository, subject)
        _check_listing(repository, subject, sbom, statement)
    # The registry indexed the subjects itself (OCI-Subject): no referrers tag was written.
    assert referrers_tag(subject.digest) not in registry.manifests
    assert any(seen.path.startswith(f"/v2/test/api/referrers/{subject.digest}?artifactType=") for seen in fake.seen)


def test_altered_blob_is_refused(fake_referrers: tuple[FakeServer, ReferrersRegistry], tmp_path: Path) -> None:
    fake, registry = fake_referrers
    with RegistryClient(parse_target(fake.address)) as client:
        repository = Repository(client, "test/api", push=True)
        subject = _pushed_subject(repository, tmp_path)
        sbom, _ = _attach_two(repository, subject)
        layer = fetch_artifact(repository, sbom).layers[0]
        registry.blobs[layer.digest] = b'{"bomFormat":"Other"}xxxx'
        with pytest.raises(RegistryError, match=r"hash to sha256:[0-9a-f]{64}; the registry"):
            fetch_blob(repository, layer)


def test_unreadable_referrers_tag_is_one_error(registry_server: LocalRegistry, repo_name: str, tmp_path: Path) -> None:
    with RegistryClient(parse_target(registry_server.address)) as client:
        repository = Repository(client, repo_name, push=True)
        subject = _pushed_subject(repository, tmp_path)
        image = read_layout(write_tiny_image(tmp_path / "other", b"not an index").archive)
        # A plain image (no "manifests") under the referrers tag: refused, not read as "no referrers".
        push_image(repository, image, [referrers_tag(subject.digest)])
        with pytest.raises(RegistryError, match="is not an image index of descriptors"):
            list_referrers(repository, subject.digest)
