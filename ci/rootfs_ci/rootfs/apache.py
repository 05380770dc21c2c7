"""Apache httpd from Debian's apache2-bin in Buildroot's layout: everything rootfs-ci knows about Apache.

The ``debian.httpd`` options, the modules httpd.conf's LoadModule lines pick, the generated
apachectl and the default index page. Another server (nginx, lighttpd) is a sibling module with
its own options model and install function, named in ``DebianOptions`` and ``debian.assemble``.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field

from rootfs_ci.errors import BackendError, ConfigError
from rootfs_ci.fsutil import resolve_in_root, rootfs_path
from rootfs_ci.rootfs.packages import Assembly, PackageTrees, install_file
from rootfs_ci.rootfs.target import run_target
from rootfs_ci.validation import StrictModel

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


class HttpdOptions(StrictModel):
    """Map Debian's apache2 into Buildroot's layout; modules come from the overlay's httpd.conf."""

    conf: str = Field(
        "/etc/apache2/httpd.conf",
        description="httpd.conf in the rootfs (from the overlay); its LoadModule lines pick modules",
    )
    modules_from: str = Field("/usr/lib/apache2/modules", description="where the Debian package keeps modules")
    server_root: str = Field("/usr", description="ServerRoot; relative LoadModule paths resolve against it")
    binary: str = Field("/usr/bin/httpd", description="rootfs path of the httpd binary")
    apachectl: str = Field("/usr/bin/apachectl", description="rootfs path of the generated apachectl")


def install_httpd(tree: Path, arch: str, packages: PackageTrees, options: HttpdOptions, assembly: Assembly) -> int:
    """Install the modules httpd.conf loads, an apachectl for this layout and the default index page.

    Returns how many modules were installed.
    """
    conf = resolve_in_root(tree, options.conf)
    if not conf.is_file():
        raise ConfigError(f"debian.httpd.conf: {options.conf} is not in the rootfs; the overlay must provide it")
    text = conf.read_text(encoding="utf-8")
    modules = _install_modules(tree, arch, packages, options, LOAD_MODULE.findall(text), assembly)
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


def _install_modules(
    tree: Path, arch: str, packages: PackageTrees, options: HttpdOptions, loaded: list[str], assembly: Assembly
) -> int:
    """Copy each LoadModule'd module from the package to where ServerRoot resolves it.

    Modules compiled into the binary (``httpd -l``) are skipped: httpd.conf loads them only
    inside ``<IfModule !name>``, so the same file serves Buildroot's httpd too.
    """
    built_in = {Path(line.strip()).stem for line in run_target(tree, arch, options.binary, ["-l"]).splitlines()[1:]}
    modules = 0
    for module in loaded:
        if Path(module).stem in built_in:
            continue
        target = module if module.startswith("/") else f"{options.server_root.rstrip('/')}/{module}"
        found = packages.find(f"{options.modules_from}/{Path(module).name}")
        if found is None:
            raise BackendError(
                f"{options.conf} loads {module}, which no package provides under {options.modules_from}; "
                "fix the LoadModule line or add the package"
            )
        install_file(found[0], tree, target)
        assembly.provided_by[f"/{rootfs_path(target)}"] = found[1]
        modules += 1
    return modules
