"""The ``diff`` collection: what the current build changes against a release, another build or an image."""

from __future__ import annotations

import sys

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from rootfs_ci.errors import ConfigError
from rootfs_ci.tasks.boundary import boundary, settings
from rootfs_ci.tasks.publishing import REGISTRY_HELP
from rootfs_ci.tasks.stages import ARCH_HELP, IMAGE_HELP

AGAINST_HELP = (
    "TAG or sha256:DIGEST in the registry (default: the latest release tag), registry://HOST/REPO:TAG, "
    "docker-image://NAME[:TAG] (the local engine), or a PATH with a '/' (another dist/ build)"
)


@task(
    help={
        "image": IMAGE_HELP,
        "arch": ARCH_HELP,
        "against": AGAINST_HELP,
        "registry": REGISTRY_HELP,
        "format": "report format: text, markdown (for a GitHub step summary) or json",
    }
)
@boundary
def diff(
    c: Context,
    image: str | None = None,
    arch: str | None = None,
    against: str | None = None,
    registry: str | None = None,
    format: str = "text",
) -> None:
    """Compare the current build (dist/IMAGE/ARCH) with a release, another build or an engine image."""
    from rootfs_ci.diff import FORMATS, RENDERERS, diff_image
    from rootfs_ci.diff.remote import NoRelease
    from rootfs_ci.diff.render import note

    if format not in FORMATS:
        raise ConfigError(f"--format {format!r} is not one of {', '.join(FORMATS)}")
    try:
        report = diff_image(settings(c), image, arch, against, registry)
    except NoRelease as exc:
        sys.stdout.write(note(str(exc), format))
        return
    sys.stdout.write(RENDERERS[format](report))


ns = Collection("diff", diff)
