"""Verify's side: the referrers of a pulled digest hold the smoke-tested build's SBOM and a provenance
statement that names this digest and the expected commit; every artifact is checked by digest.

Each failure is one line naming the artifact (its digest) and what is wrong with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rootfs_ci.attest.provenance import MEDIA_TYPE as PROVENANCE_TYPE
from rootfs_ci.attest.provenance import PREDICATE_TYPE, STATEMENT_TYPE
from rootfs_ci.errors import RegistryError
from rootfs_ci.registry.referrers import Descriptor, fetch_artifact, fetch_blob, list_referrers
from rootfs_ci.registry.repository import Repository
from rootfs_ci.sbom import MEDIA_TYPE as SBOM_TYPE


@dataclass(frozen=True)
class Checked:
    """One referrer as checked: its descriptor and the size of its content (manifest and layers)."""

    descriptor: Descriptor
    content_size: int


def _one_blob(repository: Repository, descriptor: Descriptor, digest: str) -> tuple[Descriptor, bytes]:
    artifact = fetch_artifact(repository, descriptor)
    if artifact.subject != digest:
        raise RegistryError(f"artifact {descriptor.digest} is listed for {digest} but refers to {artifact.subject}")
    if len(artifact.layers) != 1:
        raise RegistryError(
            f"artifact {descriptor.digest} ({descriptor.artifact_type}) has {len(artifact.layers)} layers, not 1"
        )
    return artifact.layers[0], fetch_blob(repository, artifact.layers[0])


def _check_sbom(descriptor: Descriptor, layer: Descriptor, expected: str) -> None:
    if layer.digest != expected:
        raise RegistryError(
            f"SBOM artifact {descriptor.digest} holds {layer.digest}, not the SBOM of the smoke-tested build "
            f"({expected or 'none recorded'}); this build did not push it: find who did and delete it"
        )


def _check_statement(descriptor: Descriptor, data: bytes, digest: str, commit: str) -> None:
    def field(path: str, value: Any) -> Any:
        for key in path.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        return value

    try:
        document = json.loads(data)
    except ValueError:
        document = None
    problem = ""
    if field("_type", document) != STATEMENT_TYPE or field("predicateType", document) != PREDICATE_TYPE:
        problem = f"is not an in-toto statement with {PREDICATE_TYPE}"
    elif digest.removeprefix("sha256:") not in [field("digest.sha256", s) for s in document.get("subject") or []]:
        problem = f"does not name {digest} as its subject"
    else:
        named = field("predicate.buildDefinition.externalParameters.source.commit", document)
        if named != commit:
            problem = f"names commit {named or 'none'}, not the expected {commit or 'none'}"
    if problem:
        raise RegistryError(f"provenance artifact {descriptor.digest} {problem}")


def check_attestations(repository: Repository, digest: str, sbom: str, commit: str) -> list[Checked]:
    """Every referrer of ``digest`` checked by digest; ours (SBOM, provenance) by content too.

    ``sbom``: the smoke-tested build's SBOM digest; ``commit``: the commit the provenance must name.
    """
    where = f"{repository.client.target.host}/{repository.name}@{digest}"
    checked: list[Checked] = []
    seen: set[str] = set()
    for descriptor in list_referrers(repository, digest):
        if descriptor.artifact_type in (SBOM_TYPE, PROVENANCE_TYPE):
            layer, data = _one_blob(repository, descriptor, digest)
            if descriptor.artifact_type == SBOM_TYPE:
                _check_sbom(descriptor, layer, sbom)
            else:
                _check_statement(descriptor, data, digest, commit)
            size = layer.size
        else:
            artifact = fetch_artifact(repository, descriptor)  # checked by digest and size only
            size = sum(layer.size for layer in artifact.layers)
        seen.add(descriptor.artifact_type)
        checked.append(Checked(descriptor, descriptor.size + size))
    for needed, what in ((SBOM_TYPE, "SBOM"), (PROVENANCE_TYPE, "provenance")):
        if needed not in seen:
            raise RegistryError(f"{where} has no {what} attached; publish it again with this rootfs-ci")
    return checked
