"""``buildroot.*`` tasks: check, edit and normalise the defconfigs of the BR2_EXTERNAL tree."""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from ci.buildroot import configure
from ci.errors import ConfigError
from ci.progress import Progress
from ci.tasks.edge import edge, emit, settings

CHECK_IMAGE_HELP = "image whose defconfig to check (default: every image with a Buildroot defconfig)"
IMAGE_HELP = "image whose defconfig to edit (default: rootfs_ci.default_image)"


@task(help={"image": CHECK_IMAGE_HELP})
@edge
def check(c: Context, image: str | None = None) -> None:
    """Load each defconfig with Buildroot's kconfig: no line may be dropped, and it must be in savedefconfig form."""
    progress = Progress("buildroot.check")
    workspace, targets = configure.workspace(settings(c), progress, image, every=True)
    failed = []
    for name, config in targets:
        progress.step(f"{name}: loading its defconfig with Buildroot's kconfig")
        try:
            emit(configure.check_image(workspace, name, config))
        except ConfigError as exc:
            if len(targets) == 1:
                raise
            progress.step(f"{name}: {exc}")
            failed.append(name)
    if failed:
        raise ConfigError(
            f"{len(failed)} of {len(targets)} defconfigs failed the check ({', '.join(failed)}); see above"
        )


@task(help={"image": IMAGE_HELP})
@edge
def menuconfig(c: Context, image: str | None = None) -> None:
    """Edit an image's defconfig in Buildroot's menuconfig; on exit it is saved back (savedefconfig)."""
    workspace, [(name, config)] = configure.workspace(settings(c), Progress("buildroot.menuconfig"), image, every=False)
    emit(configure.menuconfig(workspace, name, config))


@task(help={"image": IMAGE_HELP})
@edge
def savedefconfig(c: Context, image: str | None = None) -> None:
    """Rewrite an image's defconfig in Buildroot's normal form (make savedefconfig)."""
    progress = Progress("buildroot.savedefconfig")
    workspace, [(name, config)] = configure.workspace(settings(c), progress, image, every=False)
    emit(configure.savedefconfig(workspace, name, config))


def collection() -> Collection:
    return Collection("buildroot", check, menuconfig, savedefconfig)
