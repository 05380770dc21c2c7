"""What ``--against`` names, and the local build (an OCI layout archive in dist/) as a diff side.

(nothing)                      the latest release tag of the image in the registry
TAG | sha256:HEX               that tag or digest of the image in the registry
registry://HOST[:PORT]/REPO:TAG (or @sha256:HEX)   any repository on any registry
docker-image://NAME[:TAG]      an image in the local Docker engine (read through docker save)
PATH (holding a "/")           another build: a stage dir with image.tar, a dist dir or a project dir
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import semver

from rootfs_ci.diff.side import RangeReader, Side, checked_sbom, layer_streams, parse_config
from rootfs_ci.errors import ConfigError
from rootfs_ci.image.layout import read_layout
from rootfs_ci.registry.target import check_tag

ENGINE_SCHEME = "docker-image://"
REGISTRY_SCHEME = "registry://"
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class Against:
    kind: str  # registry, engine, local
    reference: str = ""  # tag or digest (registry; "" = latest release), image name (engine), path (local)
    registry: str = ""  # registry:// only: HOST[:PORT]
    repository: str = ""  # registry:// only: the repository path


def _split_reference(text: str) -> tuple[str, str]:
    """REPO:TAG or REPO@sha256:HEX -> (REPO, TAG or digest)."""
    if "@" in text:
        repository, _, reference = text.partition("@")
    else:
        slash = text.rfind("/")
        colon = text.rfind(":")
        repository, reference = (text[:colon], text[colon + 1 :]) if colon > slash else (text, "")
    return repository, reference


def _reference(text: str, given: str) -> str:
    if text.startswith("sha256:"):
        if not DIGEST.fullmatch(text):
            raise ConfigError(f"--against {given!r}: a digest is sha256: and 64 lowercase hex digits")
        return text
    return check_tag(text)


def parse_against(text: str | None) -> Against:
    if not text:
        return Against("registry")
    if text.startswith(ENGINE_SCHEME):
        name = text.removeprefix(ENGINE_SCHEME)
        if not name:
            raise ConfigError(f"--against {text!r} names no image; write {ENGINE_SCHEME}NAME[:TAG]")
        return Against("engine", name)
    if text.startswith(REGISTRY_SCHEME):
        host, _, path = text.removeprefix(REGISTRY_SCHEME).partition("/")
        repository, reference = _split_reference(path)
        if not host or not repository or not reference:
            raise ConfigError(f"--against {text!r}: write {REGISTRY_SCHEME}HOST[:PORT]/REPO:TAG or /REPO@sha256:HEX")
        return Against("registry", _reference(reference, text), host, repository)
    if "/" in text or text.startswith((".", "~")):
        return Against("local", text)
    return Against("registry", _reference(text, text))


def latest_release(tags: Iterable[str]) -> str | None:
    """The tag of the highest X.Y.Z (or vX.Y.Z) version; pre-releases do not count."""
    releases = []
    for tag in tags:
        text = tag.removeprefix("v")
        if semver.Version.is_valid(text):
            version = semver.Version.parse(text)
            if not version.prerelease:
                releases.append((version, tag))
    return max(releases)[1] if releases else None


def find_stage(path: Path, image: str, arch: str) -> Path:
    """The dir holding image.tar: ``path`` itself, or its IMAGE/ARCH, or its dist/IMAGE/ARCH."""
    for candidate in (path, path / image / arch, path / "dist" / image / arch):
        if (candidate / "image.tar").is_file():
            return candidate
    raise ConfigError(
        f"--against {path}: no image.tar there, nor in {image}/{arch}/ or dist/{image}/{arch}/ under it; "
        "point it at another build (run 'invoke image' there first)"
    )


def local_side(stage: Path, label: str) -> Side:
    """The image of ``stage``/image.tar, with ``stage``/sbom.json when it is the one the image names."""
    layout = read_layout(stage / "image.tar")
    config = parse_config(layout.config.read(0, layout.config.size), label)
    openers = [
        functools.partial(lambda blob: io.BufferedReader(RangeReader(blob.archive, blob.offset, blob.size)), blob)
        for blob in layout.layers
    ]
    sbom, note = checked_sbom(stage / "sbom.json", config)
    return Side(
        label=label,
        manifest_digest=layout.manifest_digest,
        config=config,
        layers=layer_streams(config, openers, label),
        layer_bytes=sum(blob.size for blob in layout.layers),
        sbom=sbom,
        sbom_note=note,
    )
