"""Small builds for the diff tests: dist/IMAGE/ARCH as the build and image stages leave it (rootfs
tar -> image.tar written by rootfs_ci.image.oci, sbom.json by rootfs_ci.sbom), from a dict of entries."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from rootfs_ci.config import Settings, load_settings
from rootfs_ci.image.layout import read_layout
from rootfs_ci.image.oci import ImageSettings, WrittenImage, write_image_archive
from rootfs_ci.registry.client import RegistryClient
from rootfs_ci.registry.push import push_image
from rootfs_ci.registry.referrers import ArtifactBlob, Descriptor, push_artifact
from rootfs_ci.registry.repository import Repository
from rootfs_ci.registry.target import parse_target
from rootfs_ci.sbom import MEDIA_TYPE, SBOM_LABEL, Subject, debian_sbom


@dataclass(frozen=True)
class Item:
    """A rootfs entry: a file (``data``), a directory (``directory``) or a symlink (``link``)."""

    data: bytes = b""
    mode: int = 0o644
    uid: int = 0
    link: str = ""
    directory: bool = False


def write_rootfs(path: Path, entries: Mapping[str, Item | bytes]) -> str:
    """A rootfs tar of ``entries`` (sorted, mtime 0); returns its sha256."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, given in sorted(entries.items()):
            item = given if isinstance(given, Item) else Item(given)
            info = tarfile.TarInfo(name)
            info.mode, info.uid, info.mtime = item.mode, item.uid, 0
            if item.directory:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif item.link:
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, item.link, 0o777
                tar.addfile(info)
            else:
                info.size = len(item.data)
                tar.addfile(info, io.BytesIO(item.data))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stage_build(
    stage: Path,
    entries: Mapping[str, Item | bytes],
    packages: Mapping[str, str] | None = None,
    *,
    image: str = "tiny",
    arch: str = "x86_64",
    reference: str = "tiny:dev",
    labels: Mapping[str, str] | None = None,
) -> WrittenImage:
    """dist/IMAGE/ARCH: image.tar (+ sbom.json, named by the image's SBOM label, when ``packages`` is given)."""
    stage.mkdir(parents=True, exist_ok=True)
    sha = write_rootfs(stage / "rootfs.tar", entries)
    all_labels = dict(labels or {})
    if packages is not None:
        listed = [
            {"name": name, "version": version, "arch": "amd64", "sha256": "0" * 64}
            for name, version in sorted(packages.items())
        ]
        sbom = debian_sbom(Subject(image, arch, "debian", sha, 0), listed).encode()
        (stage / "sbom.json").write_bytes(sbom)
        all_labels[SBOM_LABEL] = "sha256:" + hashlib.sha256(sbom).hexdigest()
    settings = ImageSettings(arch, ("/bin/sh",), (), all_labels, 0, "test")
    return write_image_archive(
        stage / "rootfs.tar", sha, stage / "layer.tar.gz", stage / "image.tar", settings, reference
    )


def settings_of(project: Path) -> Settings:
    """The settings of a project written by tests.registry_fixtures.write_project."""
    raw = yaml.safe_load((project / "invoke.yaml").read_text())["rootfs_ci"]
    return load_settings(raw, project, {"SOURCE_DATE_EPOCH": "0"})


def publish_build(target: str, image: str, stage: Path, tags: list[str], *, attach_sbom: bool = True) -> str:
    """Push the build in ``stage`` under ``tags`` (with its sbom.json as a referrer, as publishing
    attaches it); returns the manifest digest."""
    parsed = parse_target(target)
    layout = read_layout(stage / "image.tar")
    with RegistryClient(parsed) as client:
        repository = Repository(client, parsed.repository(image), push=True)
        push_image(repository, layout, tags)
        if attach_sbom:
            subject = Descriptor(layout.media_type, layout.manifest_digest, len(layout.manifest))
            sbom = ArtifactBlob(MEDIA_TYPE, (stage / "sbom.json").read_bytes())
            push_artifact(repository, subject, MEDIA_TYPE, [sbom])
    return layout.manifest_digest
