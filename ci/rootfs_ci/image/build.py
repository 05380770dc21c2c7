"""``image`` stage: rootfs.tar -> OCI/docker archive -> loaded into the local engine -> image.json."""

from __future__ import annotations

import os

import docker
from docker.errors import DockerException
from docker.models.images import Image

from rootfs_ci import __version__
from rootfs_ci.config import Settings
from rootfs_ci.engine import connect
from rootfs_ci.errors import EngineError, ImageError
from rootfs_ci.fsutil import scratch_dir, sha256_file
from rootfs_ci.gitinfo import revision, source_url
from rootfs_ci.image.oci import ImageSettings, WrittenImage, rfc3339, write_image_archive
from rootfs_ci.progress import Progress
from rootfs_ci.records import ImageRecord, Layer, RootfsRecord, read_record, stage_dir, write_record
from rootfs_ci.version import CHANGELOG, project_version


def oci_labels(settings: Settings, description: str) -> dict[str, str]:
    labels = {
        "org.opencontainers.image.created": rfc3339(settings.source_date_epoch),
        "org.opencontainers.image.version": project_version(settings.project_dir / CHANGELOG),
        "org.opencontainers.image.revision": revision(settings.project_dir),
        "org.opencontainers.image.source": settings.config.source_url or source_url(settings.project_dir),
    }
    if description:
        labels["org.opencontainers.image.description"] = description
    return {key: value for key, value in labels.items() if value}


def built_rootfs(settings: Settings, name: str, arch: str) -> RootfsRecord:
    """rootfs.json, when dist/NAME/ARCH/rootfs.tar still is the tar it records."""
    out_dir = stage_dir(settings.dist_dir, name, arch)
    built = read_record(out_dir / RootfsRecord.FILE, RootfsRecord, f"invoke build --image {name} --arch {arch}")
    rootfs_tar = out_dir / "rootfs.tar"
    if not rootfs_tar.exists() or sha256_file(rootfs_tar) != built.rootfs.sha256:
        raise ImageError(f"{rootfs_tar} is missing or changed since its build; run 'invoke build --image {name}' again")
    return built


def build_image(
    settings: Settings, name: str | None, arch: str | None, tag: str | None, built: RootfsRecord | None = None
) -> ImageRecord:
    """Write and load the image of dist/NAME/ARCH/rootfs.tar; ``built`` is its build record when the
    caller has it (the pipeline just wrote it), else rootfs.json is read and the tar checked against it."""
    name, image = settings.image(name)
    arch = settings.arch(image, arch)
    reference = settings.local_reference(name, arch, tag)
    progress = Progress("image", f"{name}/{arch}")
    out_dir = stage_dir(settings.dist_dir, name, arch)
    build = built or built_rootfs(settings, name, arch)
    rootfs_tar = out_dir / "rootfs.tar"
    expected = build.rootfs.sha256
    image_settings = ImageSettings(
        arch=arch,
        cmd=image.cmd,
        ports=image.ports,
        labels={**oci_labels(settings, image.description), **build.labels, **image.labels},
        epoch=settings.source_date_epoch,
        created_by=f"rootfs-ci {__version__} ({build.backend} backend)",
    )
    client = connect()
    # Written and loaded from this run's own scratch dir, then moved into dist/: concurrent runs
    # of one image with different tags never load each other's archive.
    with scratch_dir(settings.cache_dir / "tmp", f"image-{name}-{arch}-") as scratch:
        layer_gz = settings.cache_dir / "layers" / f"{expected}.tar.gz"  # compressed once per rootfs
        written = write_image_archive(
            rootfs_tar, expected, layer_gz, scratch / "image.tar", image_settings, reference, reuse_layer=True
        )
        note = f" ({written.layer_note})" if written.layer_note else ""
        progress.step(f"layer {written.layer.size / 1e6:.2f} MB gzip{note}, manifest {written.manifest.digest[:19]}...")
        loaded, how = _load(client, written, reference)
        if loaded.id not in (written.config.digest, written.manifest.digest):
            client.images.remove(reference, force=True)
            raise ImageError(
                f"the engine reports image ID {loaded.id} for {reference}, expected {written.config.digest}; "
                "the engine rewrote the image"
            )
        os.replace(scratch / "image.tar", out_dir / "image.tar")
    record = ImageRecord(
        image=name,
        arch=arch,
        reference=reference,
        image_id=loaded.id,
        config_digest=written.config.digest,
        manifest_digest=written.manifest.digest,
        layer=Layer(digest=written.layer.digest, size=written.layer.size, diff_id=written.diff_id),
        rootfs_sha256=expected,
        rootfs_size=build.rootfs.size,
        labels=dict(image_settings.labels),
    )
    write_record(out_dir / ImageRecord.FILE, record)
    progress.step(f"{how} (image ID {loaded.id[:19]}...)")
    return record


def _load(client: docker.DockerClient, written: WrittenImage, reference: str) -> tuple[Image, str]:
    """Load the archive; when the engine already holds this very image (its ID is the digest of the
    config, which names the layer's digest), only tag it: a second load would unpack the layer again."""
    repository, _, tag = reference.rpartition(":")
    for image_id in (written.config.digest, written.manifest.digest):  # classic store, containerd store
        try:
            client.api.tag(image_id, repository, tag, force=True)
            return client.images.get(reference), f"tagged {reference}: the engine already holds this image"
        except DockerException:
            continue
    try:
        with written.archive.open("rb") as archive:
            client.images.load(archive)
        return client.images.get(reference), f"loaded {reference}"
    except DockerException as exc:
        raise EngineError(f"the engine refused to load the image archive: {exc}") from None
