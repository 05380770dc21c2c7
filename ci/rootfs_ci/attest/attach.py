"""Publish's side: gather the SBOM and the provenance of a smoke-tested image, push them as its referrers.

Everything is read and checked before anything is pushed (a missing rootfs.json or an sbom.json
that is not the image's own stops publish with one line and nothing in the registry).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from rootfs_ci.attest.provenance import MEDIA_TYPE as PROVENANCE_TYPE
from rootfs_ci.attest.provenance import build_source, statement, statement_bytes
from rootfs_ci.config import Settings
from rootfs_ci.errors import ImageError
from rootfs_ci.records import ImageRecord, RootfsRecord, read_record, stage_dir
from rootfs_ci.registry.referrers import ArtifactBlob, Descriptor, push_artifact
from rootfs_ci.registry.repository import Repository
from rootfs_ci.sbom import SBOM_LABEL

TITLE = "org.opencontainers.image.title"


@dataclass(frozen=True)
class Attestations:
    sbom: ArtifactBlob
    provenance: ArtifactBlob


def sbom_digest(image: ImageRecord) -> str:
    """The SBOM digest the smoke-tested image carries in its label (image.json)."""
    return image.labels.get(SBOM_LABEL, "")


def gather(
    settings: Settings, image: ImageRecord, subject: str, digest: str, environ: Mapping[str, str]
) -> Attestations:
    """The SBOM (dist/IMAGE/ARCH/sbom.json, checked against the image's label) and the provenance
    statement for ``subject@digest``."""
    name, arch = image.image, image.arch
    directory = stage_dir(settings.dist_dir, name, arch)
    rootfs = read_record(directory / RootfsRecord.FILE, RootfsRecord, f"invoke build --image {name} --arch {arch}")
    path = directory / rootfs.sbom.path
    try:
        data = path.read_bytes()
    except OSError as exc:
        build = f"invoke build --image {name} --arch {arch}"
        raise ImageError(f"{path} cannot be read ({exc.strerror}); run '{build}'") from None
    found = "sha256:" + hashlib.sha256(data).hexdigest()
    for what, expected in (("rootfs.json", "sha256:" + rootfs.sbom.sha256), ("the image's label", sbom_digest(image))):
        if found != expected:
            raise ImageError(
                f"{path} is {found}, but {what} names the SBOM {expected or 'none'}; rebuild with "
                f"'invoke build --image {name} --arch {arch}' and 'invoke image --image {name} --arch {arch}'"
            )
    source = build_source(image, settings.project_dir, environ)
    provenance = statement_bytes(statement(subject, digest, rootfs, settings.project_dir, source))
    return Attestations(ArtifactBlob(rootfs.sbom.media_type, data), ArtifactBlob(PROVENANCE_TYPE, provenance))


def attach(repository: Repository, subject: Descriptor, attestations: Attestations) -> tuple[Descriptor, ...]:
    """Push the SBOM and the provenance as artifacts whose subject is ``subject``; their descriptors."""
    return tuple(
        push_artifact(repository, subject, blob.media_type, [blob], {TITLE: title})
        for blob, title in ((attestations.sbom, "sbom.json"), (attestations.provenance, "provenance.json"))
    )
