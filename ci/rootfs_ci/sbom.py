"""CycloneDX SBOMs (JSON, spec 1.6) of a rootfs, written beside rootfs.tar as sbom.json.

Two sources, one format: Buildroot's ``make show-info`` (the buildroot backend) and the package
record of the debian backend. Packages that end up in the rootfs have scope ``required``; build
tools (Buildroot's host packages) and fetched-but-unused Debian packages are ``excluded``.
Same inputs -> same bytes: the timestamp is SOURCE_DATE_EPOCH, the serial number is derived.
"""

from __future__ import annotations

import datetime
import urllib.parse
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cyclonedx import spdx
from cyclonedx.model import ExternalReference, ExternalReferenceType, HashAlgorithm, HashType, Property, XsUri
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentScope, ComponentType
from cyclonedx.model.license import DisjunctiveLicense
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from rootfs_ci import __version__

SBOM_FILE = "sbom.json"
SPEC_VERSION = "1.6"
MEDIA_TYPE = "application/vnd.cyclonedx+json"
# Image label that names the SBOM by digest (the image stage can copy it from rootfs.json).
SBOM_LABEL = "org.rootfs-ci.sbom"
# Mirrors Buildroot lists after each package's own site: not where the package comes from.
MIRROR_HOSTS = {"sources.buildroot.net"}
HASH_ALGORITHMS = {"sha256": HashAlgorithm.SHA_256, "sha512": HashAlgorithm.SHA_512, "sha1": HashAlgorithm.SHA_1}


@dataclass(frozen=True)
class Subject:
    """The rootfs the SBOM describes."""

    image: str
    arch: str
    backend: str
    rootfs_sha256: str
    epoch: int
    version: str = ""
    lock_digest: str = ""  # "sha256:HEX" of the lock file section the rootfs was built from


def _bom(subject: Subject, tools: Sequence[tuple[str, str]]) -> tuple[Bom, Component]:
    bom = Bom(
        serial_number=uuid.uuid5(
            uuid.NAMESPACE_URL, f"rootfs-ci:{subject.image}:{subject.arch}:{subject.rootfs_sha256}"
        )
    )
    bom.metadata.timestamp = datetime.datetime.fromtimestamp(subject.epoch, datetime.UTC)
    root = Component(
        type=ComponentType.CONTAINER,
        name=subject.image,
        version=subject.version or None,
        bom_ref=f"rootfs:{subject.image}/{subject.arch}",
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=subject.rootfs_sha256)],
        properties=[
            Property(name="rootfs-ci:arch", value=subject.arch),
            Property(name="rootfs-ci:backend", value=subject.backend),
            *([Property(name="rootfs-ci:lock-digest", value=subject.lock_digest)] if subject.lock_digest else []),
        ],
    )
    bom.metadata.component = root
    for name, version in (("rootfs-ci", __version__), *tools):
        bom.metadata.tools.components.add(Component(type=ComponentType.APPLICATION, name=name, version=version))
    return bom, root


def render(bom: Bom) -> str:
    return JsonV1Dot6(bom).output_as_string(indent=2) + "\n"


def debian_sbom(subject: Subject, packages: Sequence[Mapping[str, Any]]) -> str:
    """From the debian backend's package record: name, version, arch, sha256 (of the .deb), used."""
    bom, root = _bom(subject, ())
    used = []
    for package in packages:
        purl = PackageURL(
            type="deb", namespace="debian", name=package["name"], version=package["version"],
            qualifiers={"arch": package["arch"]},
        )  # fmt: skip
        component = Component(
            type=ComponentType.LIBRARY,
            name=package["name"],
            version=package["version"],
            bom_ref=purl.to_string(),
            purl=purl,
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=package["sha256"])],
            scope=ComponentScope.REQUIRED if package.get("used", True) else ComponentScope.EXCLUDED,
        )
        bom.components.add(component)
        if package.get("used", True):
            used.append(component)
    bom.register_dependency(root, used)
    return render(bom)


def _split_licenses(text: str) -> Iterator[str]:
    """Buildroot's license field: comma-separated, but commas inside parentheses belong to one entry."""
    depth, current = 0, ""
    for char in text:
        if char == "," and depth == 0:
            yield current.strip()
            current = ""
            continue
        depth += (char == "(") - (char == ")")
        current += char
    if current.strip():
        yield current.strip()


def _licenses(text: str) -> list[DisjunctiveLicense]:
    found = []
    for entry in _split_licenses(text):
        if entry and entry != "unknown":
            spdx_id = spdx.fixup_id(entry)
            found.append(DisjunctiveLicense(id=spdx_id) if spdx_id else DisjunctiveLicense(name=entry))
    return found


def _source_hashes(hash_files: Sequence[str], source: str, topdir: Path | None) -> list[HashType]:
    """The hashes Buildroot checks ``source`` against, from the package's .hash files."""
    hashes: list[HashType] = []
    if topdir is None:
        return hashes
    for hash_file in hash_files:
        try:
            lines = (topdir / hash_file).read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) == 3 and fields[2] == source and fields[0] in HASH_ALGORITHMS:
                hashes.append(HashType(alg=HASH_ALGORITHMS[fields[0]], content=fields[1]))
    return hashes


def _references(entry: Mapping[str, Any], topdir: Path | None) -> list[ExternalReference]:
    references = []
    for download in entry.get("downloads", []):
        source = download.get("source", "")
        for uri in download.get("uris", []):
            schemes, _, url = uri.partition("+")
            if not url or urllib.parse.urlparse(url).hostname in MIRROR_HOSTS:
                continue
            hashes = _source_hashes(entry.get("hashes", []), source, topdir)
            if {"git", "svn", "hg", "bzr", "cvs"} & set(schemes.split("|")):
                references.append(ExternalReference(type=ExternalReferenceType.VCS, url=XsUri(url), hashes=hashes))
            elif source:
                references.append(
                    ExternalReference(
                        type=ExternalReferenceType.SOURCE_DISTRIBUTION, url=XsUri(f"{url}/{source}"), hashes=hashes
                    )
                )
    return references


def buildroot_sbom(
    subject: Subject, show_info: Mapping[str, Any], buildroot_version: str, topdir: Path | None = None
) -> str:
    """From ``make show-info``: target packages are in the rootfs, host packages only built it."""
    bom, root = _bom(subject, (("buildroot", buildroot_version),))
    components: dict[str, Component] = {}
    for name, entry in sorted(show_info.items()):
        kind = entry.get("type")
        if kind not in ("target", "host") or entry.get("virtual", False):
            continue
        version = entry.get("version") or None
        components[name] = Component(
            type=ComponentType.LIBRARY,
            name=entry.get("name", name),
            version=version,
            bom_ref=f"buildroot:{name}",
            purl=PackageURL(type="generic", name=entry.get("name", name), version=version),
            cpe=entry.get("cpe-id"),
            licenses=_licenses(entry.get("licenses", "")),
            external_references=_references(entry, topdir),
            scope=ComponentScope.REQUIRED if kind == "target" else ComponentScope.EXCLUDED,
            properties=[Property(name="buildroot:type", value=kind)],
        )
    for name, component in components.items():
        bom.components.add(component)
        depends = [components[dep] for dep in show_info[name].get("dependencies", []) if dep in components]
        bom.register_dependency(component, depends)
    bom.register_dependency(
        root, [component for name, component in components.items() if show_info[name]["type"] == "target"]
    )
    return render(bom)
