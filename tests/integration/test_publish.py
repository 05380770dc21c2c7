"""publish and verify against a real registry and the real engine, with tiny images written by rootfs_ci.image.oci.

The image and smoke records of the tiny images are written here as those stages write them; the
last test builds, smoke-tests, publishes and verifies a real image end to end.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import uuid
from pathlib import Path
from typing import Any

import docker
import pytest

from rootfs_ci.config import Settings
from rootfs_ci.errors import ConfigError, ImageError, RegistryError, SmokeFailure
from rootfs_ci.image.layout import read_layout
from rootfs_ci.image.oci import MEDIA_INDEX
from rootfs_ci.publishing.policy import ImmutableTagError
from rootfs_ci.publishing.publish import publish
from rootfs_ci.publishing.verify import verify
from rootfs_ci.records import PublishRecord, as_json
from rootfs_ci.registry.client import RegistryClient
from rootfs_ci.registry.local import LocalRegistry
from rootfs_ci.registry.push import push_image, push_index
from rootfs_ci.registry.repository import Repository
from rootfs_ci.registry.target import parse_target
from tests.helpers import Project, engine_state, make_project
from tests.registry_fixtures import (
    TINY,
    AuthRegistry,
    free_port,
    project_settings,
    stage_tiny_image,
    write_project,
    write_tiny_image,
)

FAST = {"attempts": 2, "backoff": 0.0}


@pytest.fixture
def namespace() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def target(registry_server: LocalRegistry, namespace: str) -> str:
    return f"{registry_server.address}/{namespace}"


@pytest.fixture
def project(tmp_path: Path, target: str) -> Path:
    return write_project(tmp_path / "project", target=target)


def settings_of(project: Path) -> Settings:
    return project_settings(project)


def repository(target: str, name: str = TINY) -> Repository:
    parsed = parse_target(target)
    return Repository(RegistryClient(parsed), parsed.repository(name))


def tag_digests(repo: Repository) -> dict[str, str]:
    digests = {}
    for tag in repo.tags():
        info = repo.head_manifest(tag)
        assert info is not None
        digests[tag] = info.digest
    return digests


def run_publish(project: Path, tags: list[str] | None, **kwargs: Any) -> PublishRecord:
    return publish(project_settings(project), TINY, None, None, tags, environ={}, client_options=FAST, **kwargs)


# -- the smoke gate ---------------------------------------------------------------------------


def test_publish_refuses_an_image_without_a_passing_smoke_run(project: Path, target: str) -> None:
    directory = project / "dist" / TINY / "x86_64"
    with pytest.raises(ConfigError, match=r"image.json does not exist; run 'invoke image --image tiny --arch x86_64'"):
        run_publish(project, None)
    written = stage_tiny_image(project, b"gate", passed=False)
    with pytest.raises(SmokeFailure, match="the last smoke run of tiny/x86_64 failed; publishing is refused"):
        run_publish(project, None)
    (directory / "smoke.json").unlink()
    with pytest.raises(ConfigError, match=r"smoke.json does not exist; run 'invoke smoke --image tiny --arch x86_64'"):
        run_publish(project, None)
    stage_tiny_image(project, b"gate")
    smoke = json.loads((directory / "smoke.json").read_text())
    (directory / "smoke.json").write_text(json.dumps({**smoke, "manifest_digest": "sha256:" + "0" * 64}))
    with pytest.raises(SmokeFailure, match="the image changed after its smoke run"):
        run_publish(project, None)
    stage_tiny_image(project, b"gate")
    write_tiny_image(directory, b"swapped after smoke", reference="tiny:dev")
    with pytest.raises(ImageError, match="not the smoke-tested"):
        run_publish(project, None)
    assert written.manifest.digest.startswith("sha256:")
    assert repository(target).tags() == []  # nothing reached the registry
    assert not (directory / "publish.json").exists()


# -- publishing -------------------------------------------------------------------------------


def test_publish_pushes_the_smoke_tested_digest_and_records_it(
    project: Path, target: str, registry_server: LocalRegistry, tmp_path: Path
) -> None:
    written = stage_tiny_image(project, b"first")
    output = tmp_path / "github_output"
    record = publish(
        project_settings(project), TINY, None, None, None, environ={"GITHUB_OUTPUT": str(output)}, client_options=FAST
    )
    digest = written.manifest.digest
    assert record.tags == ("1.0.0",)  # no --ref: the CHANGELOG version
    assert record.manifest_digest == digest
    assert record.reference == f"{target}/{TINY}@{digest}"
    assert json.loads((project / "dist" / TINY / "x86_64" / "publish.json").read_text()) == as_json(record)
    assert output.read_text() == f"digest={digest}\ntags=1.0.0\nreference={record.reference}\n"
    assert tag_digests(repository(target)) == {"1.0.0": digest}


def test_version_tags_are_immutable_and_a_refusal_changes_nothing(project: Path, target: str) -> None:
    first = stage_tiny_image(project, b"release one")
    run_publish(project, ["1.0.0", "1.0", "latest"])
    before = tag_digests(repository(target))
    published = (project / "dist" / TINY / "x86_64" / "publish.json").read_text()
    second = stage_tiny_image(project, b"a different rootfs under the same version")
    with pytest.raises(ImmutableTagError) as caught:
        run_publish(project, ["1.0.0", "1.0", "latest"])
    assert str(caught.value) == (
        f"{target}/{TINY} already has version tag 1.0.0 -> "
        f"{first.manifest.digest}, not {second.manifest.digest}; version tags are immutable: release a new "
        "version (CHANGELOG.md) instead of re-publishing this one"
    )
    repo = repository(target)
    assert tag_digests(repo) == before == dict.fromkeys(["1.0.0", "1.0", "latest"], first.manifest.digest)
    assert not repo.blob_exists(second.layer.digest)  # refused before anything was pushed
    assert repo.head_manifest(second.manifest.digest) is None
    assert (project / "dist" / TINY / "x86_64" / "publish.json").read_text() == published
    # The same digest again is fine (and uploads nothing).
    stage_tiny_image(project, b"release one")
    again = run_publish(project, ["1.0.0", "1.0", "latest"])
    assert again.blobs.uploaded == ()
    assert again.manifest_digest == first.manifest.digest


def test_moving_tags_move_and_versions_stay(project: Path, target: str) -> None:
    one = stage_tiny_image(project, b"1.0.0")
    run_publish(project, ["1.0.0", "1.0", "1", "latest", "main", "sha-1111111"])
    two = stage_tiny_image(project, b"1.1.0")
    run_publish(project, ["1.1.0", "1.1", "1", "latest", "main", "sha-2222222"])
    assert tag_digests(repository(target)) == {
        "1.0.0": one.manifest.digest,
        "1.0": one.manifest.digest,
        "sha-1111111": one.manifest.digest,
        "1.1.0": two.manifest.digest,
        "1.1": two.manifest.digest,
        "1": two.manifest.digest,
        "latest": two.manifest.digest,
        "main": two.manifest.digest,
        "sha-2222222": two.manifest.digest,
    }


def test_the_engine_pulls_our_digest(project: Path, target: str, engine: docker.DockerClient) -> None:
    written = stage_tiny_image(project, b"pull me")
    run_publish(project, ["1.0.0"])
    reference = f"{target}/{TINY}:1.0.0"
    try:
        pulled = subprocess.run(["docker", "pull", reference], capture_output=True, text=True, check=False)
        assert pulled.returncode == 0, pulled.stderr
        image = engine.images.get(reference)
        assert image.attrs["RepoDigests"] == [f"{target}/{TINY}@{written.manifest.digest}"]
        assert image.id == written.config.digest
    finally:
        subprocess.run(["docker", "rmi", reference], capture_output=True, check=False)


def test_an_index_over_two_platforms(tmp_path: Path, target: str, engine: docker.DockerClient) -> None:
    parsed = parse_target(target)
    amd64 = read_layout(write_tiny_image(tmp_path / "amd64", b"multi", arch="x86_64").archive)
    arm64 = read_layout(write_tiny_image(tmp_path / "arm64", b"multi", arch="aarch64").archive)
    with RegistryClient(parsed) as client:
        repo = Repository(client, parsed.repository("multi"), push=True)
        with pytest.raises(RegistryError, match=r"lacks manifest .* for linux/amd64; push that image first"):
            push_index(repo, [(amd64.manifest_digest, len(amd64.manifest), amd64.platform)], ["1.0.0"])
        for image in (amd64, arm64):
            push_image(repo, image, [])  # by digest only
        entries = [(i.manifest_digest, len(i.manifest), i.platform) for i in (amd64, arm64)]
        result = push_index(repo, entries, ["1.0.0", "latest"])
        body, info = repo.get_manifest("latest")
        assert info.digest == result.digest
        assert sorted(repo.tags()) == ["1.0.0", "latest"]
    index = json.loads(body)
    assert index["mediaType"] == MEDIA_INDEX
    assert [(m["digest"], m["platform"]) for m in index["manifests"]] == [
        (amd64.manifest_digest, {"architecture": "amd64", "os": "linux"}),
        (arm64.manifest_digest, {"architecture": "arm64", "os": "linux", "variant": "v8"}),
    ]
    reference = f"{target}/multi:1.0.0"
    try:
        pulled = subprocess.run(["docker", "pull", reference], capture_output=True, text=True, check=False)
        assert pulled.returncode == 0, pulled.stderr
        image = engine.images.get(reference)
        assert image.attrs["RepoDigests"] == [f"{target}/multi@{result.digest}"]
        assert image.attrs["Architecture"] == "amd64"  # the engine picked its platform from the index
    finally:
        subprocess.run(["docker", "rmi", reference], capture_output=True, check=False)


def test_verify_refuses_a_tag_that_is_not_the_smoke_tested_digest(project: Path, target: str) -> None:
    published = stage_tiny_image(project, b"published")
    run_publish(project, ["1.0.0"])
    tested = stage_tiny_image(project, b"tested later")
    with pytest.raises(RegistryError) as caught:
        verify(project_settings(project), TINY, None, "1.0.0", None, environ={})
    assert str(caught.value) == (
        f"{target}/{TINY}:1.0.0 is {published.manifest.digest}, but the smoke-tested digest is {tested.manifest.digest}"
    )
    with pytest.raises(
        RegistryError, match=r":9.9.9 does not exist; publish it first \('invoke publish --image tiny'\)"
    ):
        verify(project_settings(project), TINY, None, "9.9.9", None, environ={})


# -- through the invoke CLI -------------------------------------------------------------------


def test_invoke_publish_with_a_git_ref(project: Path, target: str, tmp_path: Path) -> None:
    written = stage_tiny_image(project, b"cli")
    output = tmp_path / "github_output"
    sha = "0123456789abcdef0123456789abcdef01234567"
    result = Project(project).invoke(
        "publish", "--ref", "refs/tags/v1.2.3", "--sha", sha, env={"GITHUB_OUTPUT": str(output)}
    )
    assert result.returncode == 0, result.stderr
    published, tags_line = result.stdout.splitlines()
    assert published == f"published {target}/{TINY}@{written.manifest.digest}"
    tags = tags_line.removeprefix("tags: ").split()
    assert {"1.2.3", "1.2", "1"} <= set(tags)
    assert sorted(repository(target).tags()) == sorted(tags)
    assert f"digest={written.manifest.digest}\ntags={','.join(tags)}\n" in output.read_text()


def test_invoke_publish_registry_down_is_one_line(project: Path) -> None:
    stage_tiny_image(project, b"down")
    port = free_port()
    result = Project(project).invoke("publish", "--registry", f"127.0.0.1:{port}")
    assert result.returncode == 7
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if not line.startswith("[")]
    assert errors == [
        f"rootfs-ci: error: cannot reach registry 127.0.0.1:{port}: connection refused; "
        "start it with 'invoke registry.up' or fix rootfs_ci.registry.target"
    ]
    assert not (project / "dist" / TINY / "x86_64" / "publish.json").exists()


def test_invoke_publish_wrong_credentials_never_shows_them(project: Path, basic_registry: AuthRegistry) -> None:
    stage_tiny_image(project, b"creds")
    wrong = "wrong-" + secrets.token_urlsafe(16)
    env = {
        "ROOTFS_CI_REGISTRY_USER": basic_registry.user,
        "ROOTFS_CI_REGISTRY_PASSWORD": wrong,
        "ROOTFS_CI_REGISTRY_CA_FILE": str(basic_registry.ca_file),
    }
    result = Project(project).invoke("publish", "--registry", basic_registry.target, env=env)
    assert result.returncode == 7
    errors = [line for line in result.stderr.splitlines() if not line.startswith("[")]
    assert errors == [
        f"rootfs-ci: error: {basic_registry.registry.address} rejected the credentials from "
        f"ROOTFS_CI_REGISTRY_USER/ROOTFS_CI_REGISTRY_PASSWORD (401 for manifest {TINY}:1.0.0); "
        "check the user name and password or token"
    ]
    good = Project(project).invoke(
        "publish",
        "--registry",
        basic_registry.target,
        env={**env, "ROOTFS_CI_REGISTRY_PASSWORD": basic_registry.password},
    )
    assert good.returncode == 0, good.stderr
    for secret in (wrong, basic_registry.password):
        for text in (
            result.stdout,
            result.stderr,
            good.stdout,
            good.stderr,
            basic_registry.registry.log_file.read_text(),
        ):
            assert secret not in text


def test_publish_with_credentials_never_echoes_or_writes_the_secret(
    project: Path, basic_registry: AuthRegistry, tmp_path: Path
) -> None:
    """Every output of a publish with credentials (stdout, stderr, GITHUB_OUTPUT, every file written under the
    project, the attestations pushed) is free of the password; a target with credentials in it is refused
    without echoing them."""
    stage_tiny_image(project, b"secret")
    secret = basic_registry.password
    output = tmp_path / "github_output"
    env = {
        "ROOTFS_CI_REGISTRY_USER": basic_registry.user,
        "ROOTFS_CI_REGISTRY_PASSWORD": secret,
        "ROOTFS_CI_REGISTRY_CA_FILE": str(basic_registry.ca_file),
        "GITHUB_OUTPUT": str(output),
    }
    address = basic_registry.registry.address
    target = f"{basic_registry.target}/s{uuid.uuid4().hex[:10]}"
    inline = Project(project).invoke("publish", "--registry", f"{basic_registry.user}:{secret}@{address}", env=env)
    assert inline.returncode == 2
    assert inline.stderr.splitlines()[-1].startswith(f"rootfs-ci: error: registry target '***@{address}' holds")
    published = Project(project).invoke("publish", "--registry", target, env=env)
    assert published.returncode == 0, published.stderr
    listed = Project(project).invoke("attestations", "--registry", target, "--tag", "1.0.0", env=env)
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == 3  # the manifest, its SBOM and its provenance
    written = [path for path in project.rglob("*") if path.is_file()] + [output, basic_registry.registry.log_file]
    texts = [inline.stdout, inline.stderr, published.stdout, published.stderr, listed.stdout, listed.stderr]
    texts += [path.read_bytes().decode("latin-1") for path in written]
    assert all(secret not in text and basic_registry.user + ":" not in text for text in texts)
    assert "digest=sha256:" in output.read_text()


# -- end to end: build -> image -> smoke -> publish -> verify ---------------------------------


@pytest.mark.docker
def test_build_smoke_publish_verify(
    tmp_path: Path, shared_cache: Path, registry_server: LocalRegistry, engine: docker.DockerClient, namespace: str
) -> None:
    project = make_project(tmp_path / "e2e", shared_cache)
    tag = f"test-{uuid.uuid4().hex[:10]}"
    target = f"{registry_server.address}/{namespace}"
    try:
        for step in (("build", "--image", "testrfs"), ("image", "--image", "testrfs", "--tag", tag)):
            result = project.invoke(*step)
            assert result.returncode == 0, result.stderr
        early = project.invoke("publish", "--image", "testrfs", "--registry", target)
        assert early.returncode == 2
        assert "run 'invoke smoke --image testrfs --arch x86_64' first" in early.stderr
        result = project.invoke("smoke", "--image", "testrfs", "--tag", tag)
        assert result.returncode == 0, result.stderr
        result = project.invoke("publish", "--image", "testrfs", "--registry", target)
        assert result.returncode == 0, result.stderr
        published = json.loads((project.path / "dist" / "testrfs" / "x86_64" / "publish.json").read_text())
        version = published["tags"][0]
        result = project.invoke("verify", "--image", "testrfs", "--registry", target, "--tag", version)
        assert result.returncode == 0, result.stderr
        record = json.loads((project.path / "dist" / "testrfs" / "x86_64" / "verify.json").read_text())
        assert record["manifest_digest"] == published["manifest_digest"]
        assert record["smoke_passed"] is True
        assert result.stdout.startswith(f"verified {target}/testrfs:{version}: {published['manifest_digest']} (")
    finally:
        subprocess.run(["docker", "rmi", f"testrfs:{tag}"], capture_output=True, check=False)
    # Others may use the engine meanwhile: check only what this test made (the pulled tag, smoke containers).
    _, tags = engine_state(engine)
    assert not [t for t in tags if t.startswith(registry_server.address) or t.endswith(tag)]
    assert not [c for c in engine.containers.list(all=True) if c.attrs.get("Image") == record["image_id"]]
