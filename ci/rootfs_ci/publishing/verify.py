"""``verify``: pull a published tag back and prove it is the smoke-tested digest, then smoke it again.

verify checks what the registry sends for the tag (for a multi-arch index: its entry for the
architecture), the referrers of that digest (rootfs_ci.attest.check: the SBOM of the smoke-tested
build, a provenance naming the digest and the commit, every artifact by digest), pulls that digest
through the local engine, checks the engine's RepoDigest, and runs the smoke spec on the pulled
image (recorded as verify-smoke.json, apart from the smoke.json publish trusts).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from typing import Any

import docker
from docker.errors import APIError, DockerException, ImageNotFound

from rootfs_ci.arch import architecture as architecture_named
from rootfs_ci.attest.attach import sbom_digest
from rootfs_ci.attest.check import check_attestations
from rootfs_ci.attest.provenance import build_source
from rootfs_ci.config import Settings
from rootfs_ci.engine import connect
from rootfs_ci.errors import EngineError, RegistryError
from rootfs_ci.image.oci import MEDIA_INDEX
from rootfs_ci.progress import Progress
from rootfs_ci.publishing.policy import default_tag, smoke_tested
from rootfs_ci.records import SmokeRecord, VerifyRecord, stage_dir, write_record
from rootfs_ci.registry.auth import Credentials, find_credentials
from rootfs_ci.registry.client import open_client
from rootfs_ci.registry.repository import MEDIA_DOCKER_LIST, Repository
from rootfs_ci.registry.target import RegistryTarget, check_tag, parse_target

# verify's own smoke run must not overwrite the smoke.json that publish trusts.
VERIFY_SMOKE_RECORD = "verify-smoke.json"


def _pull(engine: docker.DockerClient, repository: str, tag: str, credentials: Credentials | None) -> None:
    """Pull and check every streamed status line: the SDK does not raise on in-band errors."""
    auth = {"username": credentials.username, "password": credentials.password} if credentials else None
    reference = f"{repository}:{tag}"
    try:
        for line in engine.api.pull(repository, tag=tag, stream=True, decode=True, auth_config=auth):
            error = line.get("errorDetail", {}).get("message") or line.get("error")
            if error:
                raise RegistryError(f"the engine could not pull {reference}: {error}")
    except APIError as exc:
        raise RegistryError(f"the engine could not pull {reference}: {exc.explanation or exc}") from None
    except DockerException as exc:
        raise EngineError(f"the engine failed while pulling {reference}: {type(exc).__name__}") from None


def platform_digest(index: Mapping[str, Any], arch: str) -> str | None:
    """The digest an image index lists for ``arch`` (our architecture name)."""
    architecture, variant = architecture_named(arch).oci_platform
    for entry in index.get("manifests") or []:
        platform = entry.get("platform") or {}
        if platform.get("architecture") == architecture and platform.get("variant", variant) == variant:
            return str(entry.get("digest"))
    return None


def _repo_digests(engine: docker.DockerClient, target: RegistryTarget, repository: str, reference: str) -> set[str]:
    try:
        attrs = engine.images.get(reference).attrs
    except ImageNotFound:
        raise EngineError(f"the engine reports no image {reference} after pulling it") from None
    names = {f"{target.host}/{repository}", repository, repository.removeprefix("library/")}
    found = set()
    for entry in attrs.get("RepoDigests") or []:
        entry_name, _, digest = str(entry).rpartition("@")
        if entry_name in names:
            found.add(digest)
    return found


def check_published(repository: Repository, tag: str, arch: str, expected: str, progress: Progress) -> None:
    """The tag names ``expected`` (for an index: its entry for ``arch``), judged by the bytes the registry
    sent, hashed here; never by the Docker-Content-Digest header."""
    reference = f"{repository.client.target.host}/{repository.name}:{tag}"
    found = repository.fetch_manifest(tag)
    if found is None:
        image = repository.name.rpartition("/")[2]
        raise RegistryError(f"{reference} does not exist; publish it first ('invoke publish --image {image}')")
    body, info = found
    if info.media_type in (MEDIA_INDEX, MEDIA_DOCKER_LIST):
        # A multi-arch index: this architecture's entry must be the smoke-tested manifest.
        try:
            listed = platform_digest(json.loads(body), arch)
        except (ValueError, AttributeError, TypeError):
            raise RegistryError(f"{reference} is an index whose JSON cannot be read") from None
        if listed != expected:
            raise RegistryError(
                f"{reference} lists {listed or 'no manifest'} for {arch}, but the smoke-tested digest is {expected}"
            )
        progress.step(f"{reference} is an index; its {arch} entry is {expected[:19]}...")
    elif info.digest != expected:
        raise RegistryError(f"{reference} is {info.digest}, but the smoke-tested digest is {expected}")


def run_pulled_smoke(settings: Settings, name: str, arch: str, reference: str) -> SmokeRecord:
    """The image's smoke spec against the pulled image, recorded apart from smoke.json."""
    from rootfs_ci.smoke.runner import run_smoke  # noqa: PLC0415 (the smoke stage loads the engine and its spec)

    return run_smoke(settings, name, arch, reference, record_name=VERIFY_SMOKE_RECORD)


def verify(
    settings: Settings,
    image: str | None,
    arch: str | None,
    tag: str | None,
    registry_target: str | None,
    *,
    keep: bool = False,
    commit: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> VerifyRecord:
    """Pull IMAGE:TAG from the registry, prove it is the smoke-tested digest with the smoke-tested build's
    SBOM and a provenance naming it and ``commit`` (default: the image's revision label) attached, and
    smoke it again."""
    environ = os.environ if environ is None else environ
    target = parse_target(registry_target or settings.config.registry.target)
    name, image_config = settings.image(image)
    arch = settings.arch(image_config, arch)
    tag = check_tag(tag or default_tag(settings))
    image_record, _ = smoke_tested(settings, name, arch)
    expected = image_record.manifest_digest
    repository = target.repository(name)
    reference = f"{target.host}/{repository}:{tag}"
    progress = Progress("verify", reference)
    with open_client(target, environ) as client:
        registry_repository = Repository(client, repository)
        check_published(registry_repository, tag, arch, expected, progress)
        if commit is None:
            commit = build_source(image_record, settings.project_dir, environ).commit
        checked = check_attestations(registry_repository, expected, sbom_digest(image_record), commit)
        for item in checked:
            progress.step(f"referrer {item.descriptor.artifact_type} {item.descriptor.digest[:19]}... checked")
    engine = connect()
    # By digest: one platform's manifest, whatever the tag names (a single manifest or an index).
    pulled = f"{target.host}/{repository}@{expected}"
    _pull(engine, f"{target.host}/{repository}", expected, find_credentials(target.host, environ).credentials)
    progress.step(f"pulled {pulled}")
    try:
        digests = _repo_digests(engine, target, repository, pulled)
        if expected not in digests:
            raise RegistryError(
                f"the engine pulled {pulled} as {', '.join(sorted(digests)) or 'no digest'}, not the smoke-tested one"
            )
        smoke_record = run_pulled_smoke(settings, name, arch, pulled)
    finally:
        if not keep:
            _remove(engine, pulled)
    record = VerifyRecord(
        image=name,
        arch=arch,
        reference=reference,
        manifest_digest=expected,
        image_id=smoke_record.image_id,
        smoke_passed=smoke_record.passed,
        checks=len(smoke_record.checks),
    )
    write_record(stage_dir(settings.dist_dir, name, arch) / VerifyRecord.FILE, record)
    return record


def _remove(engine: docker.DockerClient, reference: str) -> None:
    """Best effort: the pulled tag goes (the image too when no other tag holds it)."""
    with contextlib.suppress(DockerException):
        engine.images.remove(reference)
