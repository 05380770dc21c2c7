"""``publish`` and ``verify``: ship exactly the digest that passed smoke, then pull it back and smoke it again.

publish refuses unless dist/IMAGE/ARCH/smoke.json passed for the manifest digest image.json records
(and image.tar holds). verify pulls a tag through the local engine, checks that the engine's
RepoDigest is that smoke-tested digest, and runs the smoke spec on the pulled image.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import docker
from docker.errors import APIError, DockerException, ImageNotFound

from rootfs_ci.config import Settings
from rootfs_ci.engine import connect
from rootfs_ci.errors import ConfigError, EngineError, ImageError, RegistryError, SmokeFailure
from rootfs_ci.github import write_outputs
from rootfs_ci.image.layout import read_layout
from rootfs_ci.image.oci import MEDIA_INDEX, PLATFORMS
from rootfs_ci.progress import Progress
from rootfs_ci.records import read_record, stage_dir, write_record
from rootfs_ci.registry.auth import Credentials, find_credentials
from rootfs_ci.registry.client import open_client
from rootfs_ci.registry.push import push_image
from rootfs_ci.registry.repository import MEDIA_DOCKER_LIST, Repository
from rootfs_ci.registry.target import RegistryTarget, check_tag, parse_target
from rootfs_ci.version import project_version

PUBLISH_RECORD = "publish.json"
VERIFY_RECORD = "verify.json"
# verify's own smoke run must not overwrite the smoke.json that publish trusts.
VERIFY_SMOKE_RECORD = "verify-smoke.json"


def default_tag(settings: Settings) -> str:
    return project_version(settings.project_dir / "CHANGELOG.md")


def resolve_tags(settings: Settings, ref: str | None, sha: str | None) -> list[str]:
    """Tags from the git ref and commit by the configured rules; without a ref, the project version."""
    if not ref:
        if sha:
            raise ConfigError("--sha needs --ref (the git ref the image was built from, e.g. refs/tags/v1.2.3)")
        return [default_tag(settings)]
    from rootfs_ci.tags import compute_tags  # noqa: PLC0415 (the tag rules are only needed with --ref)

    tags = compute_tags(ref, sha or "", settings.config.tags.rules, settings.config.tags.flavor)
    if not tags:
        raise ConfigError(f"the tag rules give no tag for {ref}; nothing to publish (see rootfs_ci.tags.rules)")
    return tags


def smoke_tested(settings: Settings, name: str, arch: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(image.json, smoke.json) when the smoke run passed for the manifest digest image.json records."""
    directory = stage_dir(settings.dist_dir, name, arch)
    image_record = read_record(directory / "image.json", f"invoke image --image {name} --arch {arch}")
    smoke_command = f"invoke smoke --image {name} --arch {arch}"
    smoke = read_record(directory / "smoke.json", smoke_command)
    if smoke.get("stage") != "smoke" or (smoke.get("image"), smoke.get("arch")) != (name, arch):
        raise ConfigError(f"{directory / 'smoke.json'} is not the smoke record of {name}/{arch}; run '{smoke_command}'")
    if smoke.get("passed") is not True:
        raise SmokeFailure(
            f"the last smoke run of {name}/{arch} failed; publishing is refused until '{smoke_command}' passes"
        )
    digest = image_record.get("manifest_digest")
    if not digest or smoke.get("manifest_digest") != digest:
        raise SmokeFailure(
            f"smoke.json tested {smoke.get('manifest_digest')} but image.json is {digest} (the image changed after "
            f"its smoke run); run '{smoke_command}' again"
        )
    return image_record, smoke


def publish(
    settings: Settings,
    image: str | None,
    arch: str | None,
    registry_target: str | None,
    tags: Sequence[str] | None,
    *,
    by_digest: bool = False,
    environ: Mapping[str, str] | None = None,
    client_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Push dist/IMAGE/ARCH/image.tar under ``tags`` (default: the project version); write publish.json.

    ``by_digest`` pushes the manifest by digest only, with no tag (a release then merges the
    architectures into one tagged index: rootfs_ci.index.publish_index).
    """
    if by_digest and tags:
        raise ConfigError("a push by digest applies no tags; drop the tags (--ref/--sha) or --by-digest")
    environ = os.environ if environ is None else environ
    target = parse_target(registry_target or settings.config.registry.target)
    name, image_config = settings.image(image)
    arch = settings.arch(image_config, arch)
    directory = stage_dir(settings.dist_dir, name, arch)
    image_record, _ = smoke_tested(settings, name, arch)
    layout = read_layout(directory / "image.tar")
    if layout.manifest_digest != image_record["manifest_digest"]:
        raise ImageError(
            f"{layout.archive} holds {layout.manifest_digest}, not the smoke-tested {image_record['manifest_digest']}; "
            f"run 'invoke image --image {name}' and 'invoke smoke --image {name}' again"
        )
    tags = [] if by_digest else [check_tag(tag) for tag in (tags or [default_tag(settings)])]
    progress = Progress("publish", f"{name}/{arch}")
    progress.step(f"pushing {layout.manifest_digest[:19]}... to {target} as {', '.join(tags) or 'digest only'}")
    with open_client(target, environ, **(client_options or {})) as client:
        result = push_image(Repository(client, target.repository(name), push=True), layout, tags, progress=progress)
    record: dict[str, Any] = {
        "stage": "publish",
        "image": name,
        "arch": arch,
        "registry": str(target),
        "repository": f"{target.host}/{result.repository}",
        "reference": target.reference(result.repository, result.digest),
        "manifest_digest": result.digest,
        "tags": list(result.tags),
        "blobs": {"uploaded": list(result.uploaded), "existing": list(result.existing)},
    }
    write_record(directory / PUBLISH_RECORD, record)
    write_outputs({"digest": result.digest, "tags": ",".join(result.tags), "reference": record["reference"]}, environ)
    return record


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
    architecture, variant = PLATFORMS[arch]
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


def run_pulled_smoke(settings: Settings, name: str, arch: str, reference: str) -> dict[str, Any]:
    """The image's smoke spec against the pulled image, recorded apart from smoke.json."""
    from rootfs_ci.smoke import run_smoke  # noqa: PLC0415 (the smoke stage loads the engine and its spec)

    return run_smoke(settings, name, arch, reference, record_name=VERIFY_SMOKE_RECORD)


def verify(
    settings: Settings,
    image: str | None,
    arch: str | None,
    tag: str | None,
    registry_target: str | None,
    *,
    keep: bool = False,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Pull IMAGE:TAG from the registry, prove it is the smoke-tested digest, and smoke it again."""
    environ = os.environ if environ is None else environ
    target = parse_target(registry_target or settings.config.registry.target)
    name, image_config = settings.image(image)
    arch = settings.arch(image_config, arch)
    tag = check_tag(tag or default_tag(settings))
    _, smoke = smoke_tested(settings, name, arch)
    expected = str(smoke["manifest_digest"])
    repository = target.repository(name)
    reference = f"{target.host}/{repository}:{tag}"
    progress = Progress("verify", reference)
    with open_client(target, environ) as client:
        check_published(Repository(client, repository), tag, arch, expected, progress)
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
    record: dict[str, Any] = {
        "stage": "verify",
        "image": name,
        "arch": arch,
        "reference": reference,
        "manifest_digest": expected,
        "image_id": smoke_record.get("image_id"),
        "smoke_passed": smoke_record.get("passed"),
        "checks": len(smoke_record.get("checks") or []),
    }
    write_record(stage_dir(settings.dist_dir, name, arch) / VERIFY_RECORD, record)
    return record


def _remove(engine: docker.DockerClient, reference: str) -> None:
    """Best effort: the pulled tag goes (the image too when no other tag holds it)."""
    with contextlib.suppress(DockerException):
        engine.images.remove(reference)
