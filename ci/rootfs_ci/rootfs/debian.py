"""The ``debian`` backend: the Buildroot-layout rootfs assembled from Debian binary packages.

Only the ELF closure of what the image needs goes in: the mapped files, the httpd modules the
overlay's httpd.conf loads, their DT_NEEDED libraries and loader, plus sonames glibc dlopens.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rootfs_ci.archive import extract_tar
from rootfs_ci.config import DebianOptions, HttpdOptions, ImageConfig
from rootfs_ci.errors import BackendError, ConfigError
from rootfs_ci.fsutil import resolve_in_root, rootfs_path, scratch_dir
from rootfs_ci.progress import Progress
from rootfs_ci.rootfs.apt import DEB_ARCH, Apt, DebPackage, apt_for, fetch_packages
from rootfs_ci.rootfs.elf import is_elf, read_elf
from rootfs_ci.rootfs.overlay import apply_overlay
from rootfs_ci.rootfs.skeleton import lay_skeleton

TRIPLETS = {"x86_64": "x86_64-linux-gnu", "aarch64": "aarch64-linux-gnu"}
QEMU = {"aarch64": "qemu-aarch64-static", "x86_64": "qemu-x86_64-static"}
BIN_DIRS = ("bin", "sbin", "usr/bin", "usr/sbin")
LOAD_MODULE = re.compile(r'^\s*LoadModule\s+\S+\s+"?([^"\s]+)"?', re.MULTILINE)
DOCUMENT_ROOT = re.compile(r'^\s*DocumentRoot\s+"?([^"\s]+)"?', re.MULTILINE)

# Upstream httpd's docs/docroot/index.html, which Buildroot's apache installs as /usr/htdocs/index.html.
HTDOCS_INDEX = "<html><body><h1>It works!</h1></body></html>\n"

APACHECTL = """\
#!/bin/sh
# apachectl for Debian's httpd in Buildroot's layout (written by rootfs-ci's debian backend).
# Debian's binary has /etc/apache2/apache2.conf compiled in, so every call names the config.
HTTPD="{binary} -f {conf}"
[ $# -eq 0 ] && set -- -h
case "$1" in
start|stop|restart|graceful|graceful-stop) exec $HTTPD -k "$1" ;;
configtest) exec $HTTPD -t ;;
*) exec $HTTPD "$@" ;;
esac
"""


@dataclass
class Assembly:
    """What went into the rootfs, for the build record."""

    packages: list[DebPackage]
    provided_by: dict[str, str] = field(default_factory=dict)  # rootfs path -> package name

    def used_packages(self) -> set[str]:
        return set(self.provided_by.values())


def extract_deb(deb: Path, into: Path) -> None:
    """Extract a .deb's data archive with rootfs_ci.archive's safety rules."""
    with subprocess.Popen(
        ["dpkg-deb", "--fsys-tarfile", "--", str(deb)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        assert proc.stdout is not None
        extract_tar(proc.stdout, into, deb.name)
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise BackendError(f"{deb.name}: dpkg-deb failed ({stderr.strip()[:200]}); delete it from the cache")


def extracted(package: DebPackage, cache_dir: Path) -> Path:
    """The package's files, extracted once per .deb sha256 and then only read (never written)."""
    root = cache_dir / "extracted" / package.arch / f"{package.name}-{package.sha256[:16]}"
    if root.is_dir():
        return root
    with scratch_dir(cache_dir / "tmp", f"extract-{package.name}-") as scratch:
        extract_deb(package.path, scratch / "tree")
        root.parent.mkdir(parents=True, exist_ok=True)
        try:
            (scratch / "tree").rename(root)
        except OSError:
            if not root.is_dir():  # a concurrent build won the race with the same content: fine
                raise
    return root


class PackageTrees:
    """The extracted packages, searchable by path and by library name."""

    def __init__(self, trees: Sequence[tuple[str, Path]], arch: str) -> None:
        self.trees = list(trees)
        self.libraries: dict[str, tuple[Path, str, str]] = {}  # soname -> (file, target dir, package)
        triplet = TRIPLETS[arch]
        search = (
            (f"lib/{triplet}", "lib"), ("lib", "lib"), ("lib64", "lib"),
            (f"usr/lib/{triplet}", "usr/lib"), ("usr/lib", "usr/lib"),
        )  # fmt: skip
        for package, root in self.trees:
            for relative_dir, target in search:
                directory = root / relative_dir
                if not directory.is_dir():
                    continue
                for entry in sorted(directory.iterdir()):
                    if ".so" in entry.name:
                        real = resolve_in_root(root, f"{relative_dir}/{entry.name}")
                        if real.is_file():
                            self.libraries.setdefault(entry.name, (real, target, package))

    def find(self, path: str) -> tuple[Path, str] | None:
        for package, root in self.trees:
            candidate = resolve_in_root(root, path)
            if candidate.is_file():
                return candidate, package
        return None


def _install(source: Path, tree: Path, target: str) -> Path:
    destination = resolve_in_root(tree, target, follow_last=False)
    destination.parent.mkdir(parents=True, exist_ok=True)
    if destination.exists() or destination.is_symlink():
        destination.unlink()
    shutil.copyfile(source, destination)
    destination.chmod(source.stat().st_mode & 0o777)
    return destination


def _elf_files(tree: Path) -> Iterator[Path]:
    for dirpath, _dirnames, filenames in os.walk(tree):
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not path.is_symlink() and is_elf(path):
                yield path


def close_over_libraries(
    tree: Path, packages: PackageTrees, dlopen: Sequence[str], arch: str, assembly: Assembly
) -> int:
    """Add every library the tree's ELF files need (and their loader); return how many were added."""
    pending = sorted(_elf_files(tree))
    needed_by: dict[str, str] = {soname: "dlopen (debian.dlopen)" for soname in dlopen}
    queue = list(dlopen)
    added = 0
    while pending or queue:
        while pending:
            path = pending.pop()
            relative = path.relative_to(tree).as_posix()
            try:
                info = read_elf(path)
            except ValueError as exc:
                raise BackendError(str(exc)) from None
            if info.machine != arch:
                raise BackendError(f"/{relative} is built for {info.machine}, not {arch}; use {arch} packages")
            names = list(info.needed)
            if info.interpreter:
                names.append(Path(info.interpreter).name)
            for soname in names:
                if soname not in needed_by:
                    needed_by[soname] = f"/{relative}"
                    queue.append(soname)
        while queue:
            soname = queue.pop(0)
            if any((tree / directory / soname).exists() for directory in ("lib", "usr/lib")):
                continue
            found = packages.libraries.get(soname)
            if found is None:
                raise BackendError(
                    f"{soname} (needed by {needed_by[soname]}) is in none of the image's packages; add the Debian "
                    f"package that ships it to debian.packages (find it with: dpkg -S {soname})"
                )
            source, target_dir, package = found
            pending.append(_install(source, tree, f"{target_dir}/{soname}"))
            assembly.provided_by[f"/{target_dir}/{soname}"] = package
            added += 1
    return added


def _check_loaders(tree: Path) -> None:
    for path in _elf_files(tree):
        interpreter = read_elf(path).interpreter
        if interpreter and not resolve_in_root(tree, interpreter).is_file():
            raise BackendError(f"/{path.relative_to(tree)}: its loader {interpreter} is missing from the rootfs")


def run_target(tree: Path, arch: str, binary: str, args: Sequence[str]) -> str:
    """Run a binary of the rootfs on this host (its own loader natively, qemu-user otherwise)."""
    host = resolve_in_root(tree, binary)
    if arch == platform.machine():
        interpreter = read_elf(host).interpreter
        command = [str(host)]
        if interpreter:
            library_path = f"{tree / 'lib'}:{tree / 'usr/lib'}"
            command = [str(resolve_in_root(tree, interpreter)), "--library-path", library_path, str(host)]
    else:
        qemu = shutil.which(QEMU[arch])
        if qemu is None:
            raise BackendError(f"running {arch} binaries needs {QEMU[arch]}; install qemu-user-static")
        command = [qemu, "-L", str(tree), str(host)]
    result = subprocess.run([*command, *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackendError(f"{binary} {' '.join(args)} failed in the rootfs: {result.stderr.strip()[:200]}")
    return result.stdout


def link_busybox_applets(tree: Path, arch: str, only: Sequence[str] = ()) -> int:
    """Symlink each applet busybox offers (or only those named), unless another program has that name."""
    if not (tree / "bin/busybox").is_file():
        raise ConfigError("debian.busybox_links needs /bin/busybox: add busybox to packages and files")
    taken = {
        entry.name for directory in BIN_DIRS if (tree / directory).is_dir() for entry in (tree / directory).iterdir()
    }
    offered = [rootfs_path(line) for line in run_target(tree, arch, "/bin/busybox", ["--list-full"]).split()]
    unknown = sorted(set(only) - {applet.name for applet in offered})
    if unknown:
        raise ConfigError(f"debian.busybox_applets: this busybox has no applet {', '.join(unknown)}; remove it")
    linked = 0
    for applet in offered:
        if applet.name in taken or applet.as_posix() == "bin/busybox" or (only and applet.name not in only):
            continue
        link = tree / applet
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(tree / "bin/busybox", link.parent))
        taken.add(applet.name)
        linked += 1
    return linked


def install_httpd(tree: Path, arch: str, packages: PackageTrees, options: HttpdOptions, assembly: Assembly) -> int:
    """Install the modules httpd.conf loads, an apachectl for this layout and the default index page.

    Modules compiled into the binary (``httpd -l``) are skipped: httpd.conf loads them only
    inside ``<IfModule !name>``, so the same file serves Buildroot's httpd too.
    """
    conf = resolve_in_root(tree, options.conf)
    if not conf.is_file():
        raise ConfigError(f"debian.httpd.conf: {options.conf} is not in the rootfs; the overlay must provide it")
    text = conf.read_text(encoding="utf-8")
    built_in = {Path(line.strip()).stem for line in run_target(tree, arch, options.binary, ["-l"]).splitlines()[1:]}
    modules = 0
    for module in LOAD_MODULE.findall(text):
        if Path(module).stem in built_in:
            continue
        target = module if module.startswith("/") else f"{options.server_root.rstrip('/')}/{module}"
        found = packages.find(f"{options.modules_from}/{Path(module).name}")
        if found is None:
            raise BackendError(
                f"{options.conf} loads {module}, which no package provides under {options.modules_from}; "
                "fix the LoadModule line or add the package"
            )
        _install(found[0], tree, target)
        assembly.provided_by[f"/{rootfs_path(target)}"] = found[1]
        modules += 1
    apachectl = resolve_in_root(tree, options.apachectl, follow_last=False)
    if not apachectl.exists():
        apachectl.parent.mkdir(parents=True, exist_ok=True)
        apachectl.write_text(APACHECTL.format(binary=options.binary, conf=options.conf), encoding="utf-8")
        apachectl.chmod(0o755)
    for document_root in DOCUMENT_ROOT.findall(text):
        index = resolve_in_root(tree, f"{document_root}/index.html")
        if not index.exists():
            index.parent.mkdir(parents=True, exist_ok=True)
            index.write_text(HTDOCS_INDEX, encoding="utf-8")
    (tree / rootfs_path(options.server_root) / "logs").mkdir(parents=True, exist_ok=True)
    return modules


def _install_files(tree: Path, packages: PackageTrees, options: DebianOptions, assembly: Assembly) -> None:
    for source, target in options.files.items():
        found = packages.find(source)
        if found is None:
            names = ", ".join(options.packages)
            raise ConfigError(
                f"debian.files: {source} is in none of the packages ({names}); fix the path or add the package"
            )
        _install(found[0], tree, target)
        assembly.provided_by[f"/{rootfs_path(target)}"] = found[1]


def assemble(
    image: ImageConfig,
    arch: str,
    project_dir: Path,
    cache_dir: Path,
    work: Path,
    progress: Progress,
    apt: Apt | None = None,
) -> tuple[Path, Assembly]:
    """Assemble the rootfs tree under ``work``; return it and what went in."""
    options = image.debian
    deb_arch = DEB_ARCH[arch]
    packages = fetch_packages(
        apt or apt_for(deb_arch, cache_dir, progress), options.packages, deb_arch, cache_dir, progress
    )
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
    _check_loaders(tree)
    progress.step(f"ELF closure: {libraries} libraries")
    if options.busybox_links:
        progress.step(f"busybox: {link_busybox_applets(tree, arch, options.busybox_applets)} applet links")
    return tree, assembly
