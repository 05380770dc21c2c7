"""Release policy: which digest may be published and under which tags.

Only the digest whose smoke run passed is published (dist/IMAGE/ARCH/smoke.json against image.json).
Version tags (X.Y.Z, X.Y.Z-pre, optionally with a leading v) are immutable: every tag is checked
before anything is pushed, and one that names another digest refuses the whole push. Other tags
(latest, 1, 1.2, branch names, sha-...) move.
"""

from __future__ import annotations

from collections.abc import Sequence

import semver

from rootfs_ci.config import Settings
from rootfs_ci.errors import ConfigError, RegistryError, SmokeFailure
from rootfs_ci.records import ImageRecord, SmokeRecord, read_record, stage_dir
from rootfs_ci.registry.repository import Repository
from rootfs_ci.version import CHANGELOG, project_version


class ImmutableTagError(RegistryError):
    """A version tag already names another digest."""


def default_tag(settings: Settings) -> str:
    return project_version(settings.project_dir / CHANGELOG)


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


def smoke_tested(settings: Settings, name: str, arch: str) -> tuple[ImageRecord, SmokeRecord]:
    """(image.json, smoke.json) when the smoke run passed for the manifest digest image.json records."""
    directory = stage_dir(settings.dist_dir, name, arch)
    image_record = read_record(directory / ImageRecord.FILE, ImageRecord, f"invoke image --image {name} --arch {arch}")
    smoke_command = f"invoke smoke --image {name} --arch {arch}"
    smoke = read_record(directory / SmokeRecord.FILE, SmokeRecord, smoke_command)
    if (smoke.image, smoke.arch) != (name, arch):
        path = directory / SmokeRecord.FILE
        raise ConfigError(f"{path} is not the smoke record of {name}/{arch}; run '{smoke_command}'")
    if not smoke.passed:
        raise SmokeFailure(
            f"the last smoke run of {name}/{arch} failed; publishing is refused until '{smoke_command}' passes"
        )
    digest = image_record.manifest_digest
    if smoke.manifest_digest != digest:
        raise SmokeFailure(
            f"smoke.json tested {smoke.manifest_digest} but image.json is {digest} (the image changed after "
            f"its smoke run); run '{smoke_command}' again"
        )
    return image_record, smoke


def is_version_tag(tag: str) -> bool:
    return semver.Version.is_valid(tag.removeprefix("v"))


def check_version_tags(repository: Repository, digest: str, tags: Sequence[str]) -> None:
    """Refuse (changing nothing) when a version tag already points at a digest other than ``digest``."""
    conflicts = []
    for tag in tags:
        if is_version_tag(tag):
            current = repository.head_manifest(tag)
            if current is not None and current.digest != digest:
                conflicts.append(f"{tag} -> {current.digest}")
    if conflicts:
        where = f"{repository.client.target.host}/{repository.name}"
        raise ImmutableTagError(
            f"{where} already has version tag {', '.join(conflicts)}, not {digest}; version tags are immutable: "
            f"release a new version ({CHANGELOG}) instead of re-publishing this one"
        )
