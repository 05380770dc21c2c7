"""The ``debian`` backend: the Buildroot-layout rootfs assembled from Debian binary packages.

Only the ELF closure of what the image needs goes in: the mapped files, the httpd modules the
overlay's httpd.conf loads, their DT_NEEDED libraries and loader, plus sonames glibc dlopens.
"""

from __future__ import annotations

from pathlib import Path

from rootfs_ci.config import DebianOptions, ImageConfig
from rootfs_ci.errors import ConfigError
from rootfs_ci.fsutil import rootfs_path
from rootfs_ci.progress import Progress
from rootfs_ci.rootfs.apache import install_httpd
from rootfs_ci.rootfs.busybox import link_busybox_applets
from rootfs_ci.rootfs.closure import check_loaders, close_over_libraries
from rootfs_ci.rootfs.debs import obtain
from rootfs_ci.rootfs.lockfile import LockSection
from rootfs_ci.rootfs.overlay import apply_overlay
from rootfs_ci.rootfs.packages import Assembly, PackageTrees, extracted, install_file
from rootfs_ci.rootfs.skeleton import lay_skeleton
from rootfs_ci.rootfs.sources import Sources


def _install_files(tree: Path, packages: PackageTrees, options: DebianOptions, assembly: Assembly) -> None:
    for source, target in options.files.items():
        found = packages.find(source)
        if found is None:
            names = ", ".join(options.packages)
            raise ConfigError(
                f"debian.files: {source} is in none of the packages ({names}); fix the path or add the package"
            )
        install_file(found[0], tree, target)
        assembly.provided_by[f"/{rootfs_path(target)}"] = found[1]


def assemble(
    image: ImageConfig,
    arch: str,
    project_dir: Path,
    cache_dir: Path,
    work: Path,
    progress: Progress,
    locked: LockSection,
    sources: Sources,
) -> tuple[Path, Assembly]:
    """Assemble the rootfs tree under ``work`` from the lock's .debs; return it and what went in."""
    options = image.debian
    by_name = {deb.name: deb for deb in locked.packages}
    # invoke.yaml's order: files and libraries are taken from the first package that has them
    packages = obtain([by_name[name] for name in options.packages], sources, cache_dir, progress)
    assembly = Assembly(packages=packages)
    trees = [(package.name, extracted(package, cache_dir)) for package in packages]
    progress.step(f"{len(trees)} packages extracted (cached by sha256)")
    package_trees = PackageTrees(trees, arch)

    tree = work / "rootfs"
    lay_skeleton(tree, arch)
    _install_files(tree, package_trees, options, assembly)
    for overlay in image.overlays:
        count = apply_overlay(project_dir / overlay, tree)
        progress.step(f"overlay {overlay}: {count} entries")
    libraries = close_over_libraries(tree, package_trees, options.dlopen, arch, assembly)
    if options.httpd is not None:
        modules = install_httpd(tree, arch, package_trees, options.httpd, assembly)
        progress.step(f"httpd: {modules} modules from {options.httpd.conf}")
        libraries += close_over_libraries(tree, package_trees, (), arch, assembly)
    check_loaders(tree)
    progress.step(f"ELF closure: {libraries} libraries")
    if options.busybox_links:
        progress.step(f"busybox: {link_busybox_applets(tree, arch, options.busybox_applets)} applet links")
    return tree, assembly
