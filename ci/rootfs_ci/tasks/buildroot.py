"""``buildroot.*`` tasks: check, edit and normalise the defconfigs of the BR2_EXTERNAL tree."""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from rootfs_ci.errors import ConfigError
from rootfs_ci.progress import Progress
from rootfs_ci.tasks.boundary import boundary, emit, settings

CHECK_IMAGE_HELP = "image whose defconfigs to check (default: every image with a Buildroot defconfig)"
IMAGE_HELP = "image whose defconfig to edit (default: rootfs_ci.default_image, else the first image)"
ARCH_HELP = "architecture whose defconfig (IMAGE_defconfig, IMAGE_ARCH_defconfig for others; default: first platform)"
CHECK_ARCH_HELP = "only this architecture's defconfig (default: every platform of the image)"


@task(help={"image": CHECK_IMAGE_HELP, "arch": CHECK_ARCH_HELP})
@boundary
def check(c: Context, image: str | None = None, arch: str | None = None) -> None:
    """Load each defconfig with Buildroot's kconfig: no line may be dropped, and it must be in savedefconfig form."""
    from rootfs_ci.buildroot import configure

    progress = Progress("buildroot.check")
    workspace, targets = configure.workspace(settings(c), progress, image, every=True, arch=arch)
    failed = []
    for name, config, target_arch in targets:
        progress.step(f"{name}/{target_arch}: loading its defconfig with Buildroot's kconfig")
        try:
            emit(configure.check_image(workspace, name, config, target_arch))
        except ConfigError as exc:
            if len(targets) == 1:
                raise
            progress.step(f"{name}/{target_arch}: {exc}")
            failed.append(f"{name}/{target_arch}")
    if failed:
        raise ConfigError(
            f"{len(failed)} of {len(targets)} defconfigs failed the check ({', '.join(failed)}); see above"
        )


@task(help={"image": IMAGE_HELP, "arch": ARCH_HELP})
@boundary
def menuconfig(c: Context, image: str | None = None, arch: str | None = None) -> None:
    """Edit an image's defconfig in Buildroot's menuconfig; on exit it is saved back (savedefconfig)."""
    from rootfs_ci.buildroot import configure

    progress = Progress("buildroot.menuconfig")
    workspace, [target] = configure.workspace(settings(c), progress, image, every=False, arch=arch)
    emit(configure.menuconfig(workspace, *target))


@task(help={"image": IMAGE_HELP, "arch": ARCH_HELP})
@boundary
def savedefconfig(c: Context, image: str | None = None, arch: str | None = None) -> None:
    """Rewrite an image's defconfig in Buildroot's normal form (make savedefconfig)."""
    from rootfs_ci.buildroot import configure

    config = settings(c)
    arch = arch or config.image(image)[1].platforms[0]
    workspace, [target] = configure.workspace(
        config, Progress("buildroot.savedefconfig"), image, every=False, arch=arch
    )
    emit(configure.savedefconfig(workspace, *target))


ns = Collection("buildroot", check, menuconfig, savedefconfig)
