"""Task for the lock file: invoke lock [--image N] [--update]."""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from rootfs_ci.tasks.boundary import boundary, emit, settings

IMAGE_HELP = "lock only this image (default: every image in invoke.yaml)"
UPDATE_HELP = "re-resolve every selected section to the newest versions (default: only missing or stale ones)"


@task(help={"image": IMAGE_HELP, "update": UPDATE_HELP})
@boundary
def lock(c: Context, image: str | None = None, update: bool = False) -> None:
    """Resolve each image x architecture's packages and write them to the lock file (rootfs-ci.lock)."""
    from rootfs_ci.fsutil import shown
    from rootfs_ci.rootfs.lockfile import changes
    from rootfs_ci.rootfs.locking import lock_targets, update_lock

    config = settings(c)
    targets = lock_targets(config, [config.image(image)[0]] if image else list(config.config.images))
    written = update_lock(config, targets, update=update)
    for key, (old, new) in sorted(written.items()):
        emit(f"{key}: {', '.join(changes(old, new)) or 'unchanged'}")
    emit(f"{shown(config.lock_path)}: {len(written)} of {len(targets)} sections changed")


ns = Collection("lock", lock)
