#!/usr/bin/env python3
"""STAND-IN for Buildroot's make interface, used only by rootfs-ci's tests. NOT Buildroot.

It honours what rootfs-ci relies on, with Buildroot's file names and output formats:
- ``NAME_defconfig`` / ``defconfig`` (BR2_DEFCONFIG=): a tiny "kconfig" that knows the symbols
  in symbols.txt, silently drops unknown ones and ones whose dependency is off, and writes
  O/.config (with BR2_ARCH and BR2_DEFCONFIG) like kconfig does; BR2_EXTERNAL is remembered.
- ``savedefconfig``: the non-default symbols, in menu order, into BR2_DEFCONFIG.
- ``menuconfig``: applies STANDIN_MENUCONFIG_SET ("BR2_X=y BR2_Y=n"), standing in for a user.
- ``show-info``: one line of JSON in show-info's format for the enabled packages.
- default target: ``>>> pkg version Step`` lines and noise, a stamp per installed package,
  overlays copied, fakeroot scripts run on a copy, O/images/rootfs.tar written.
  STANDIN_FAIL_PACKAGE=NAME makes package NAME fail at its Building step.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

TOPDIR, OUT, EXTERNAL_ARG, DEFCONFIG_ARG, GOAL, *GOAL_ARGS = sys.argv[1:]
TOP = Path(TOPDIR)
OUTPUT = Path(OUT) if OUT else TOP / "output"

APACHE_MODULES = ("authz_core", "mime", "dir", "slotmem_shm", "unixd", "log_config", "status", "ssl", "proxy")
STOCK_HTTPD_CONF = "ServerRoot /usr\nListen 80\n" + "".join(
    f"#LoadModule {name}_module modules/mod_{name}.so\n" for name in APACHE_MODULES
)
SCRIPT = "#!/bin/sh\n# stand-in {name}\necho 'stand-in {name}' \"$@\"\n"


def apache_files() -> dict[str, str]:
    files = {f"usr/modules/mod_{name}.so": f"stand-in module {name}\n" for name in APACHE_MODULES}
    files.update({f"usr/bin/{tool}": SCRIPT.format(name=tool) for tool in ("httpd", "apachectl", "ab", "htpasswd")})
    files.update(
        {
            "etc/apache2/httpd.conf": STOCK_HTTPD_CONF,
            "etc/apache2/mime.types": "text/html html\n",
            "etc/apache2/extra/httpd-ssl.conf": "# ssl\n",
            "etc/apache2/original/httpd.conf": STOCK_HTTPD_CONF,
            "etc/init.d/S50apache": SCRIPT.format(name="S50apache"),
            "usr/htdocs/index.html": "<html><body><h1>It works!</h1></body></html>\n",
            "usr/icons/apache_pb.gif": "GIF89a stand-in\n",
            "usr/cgi-bin/printenv": SCRIPT.format(name="printenv"),
            "usr/error/README": "stand-in error documents\n",
        }
    )
    return files


SKELETON = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/bin/false\n",
    "etc/group": "root:x:0:\nwww-data:x:33:\n",
    "etc/shadow": "root:*:::::::\nwww-data:*:::::::\n",
    "etc/init.d/rcS": SCRIPT.format(name="rcS"),
    "tmp/.keep": "",
    "run/.keep": "",
}

# name: (version, type, licenses, dependencies, enabled by, files in the target, cpe-id)
PACKAGES: dict[str, tuple[str, str, str, list[str], str, dict[str, str], str]] = {
    "host-skeleton": ("", "host", "unknown", [], "", {}, ""),
    "host-fakeroot": ("1.37.1.2", "host", "GPL-3.0+", ["host-skeleton"], "", {}, ""),
    "toolchain": ("", "target", "", ["toolchain-external-bootlin"], "", {}, ""),
    # Like Buildroot's external toolchain: glibc and the compiler runtime, C++ and OpenMP included.
    "toolchain-external-bootlin": ("2025.08-1", "target", "unknown", ["host-skeleton"], "",
                                   {"lib/libc.so.6": "stand-in libc\n", "lib/libgcc_s.so.1": "stand-in libgcc_s\n",
                                    "lib/libstdc++.so.6": "stand-in libstdc++\n",
                                    "lib/libgomp.so.1": "stand-in libgomp\n"}, ""),
    "skeleton-init-sysv": ("", "target", "unknown", [], "", SKELETON, ""),
    "busybox": ("1.37.0", "target", "GPL-2.0, bzip2-1.0.4", ["toolchain", "skeleton-init-sysv"], "",
                {"bin/busybox": SCRIPT.format(name="busybox")}, "cpe:2.3:a:busybox:busybox:1.37.0:-:*:*:*:*:*:*"),
    "pcre2": ("10.47", "target", "BSD-3-Clause", ["toolchain"], "BR2_PACKAGE_APACHE",
              {"usr/lib/libpcre2-8.so.0": "stand-in pcre2\n"}, "cpe:2.3:a:pcre:pcre2:10.47:-:*:*:*:*:*:*"),
    "apr": ("1.7.6", "target", "Apache-2.0", ["toolchain"], "BR2_PACKAGE_APACHE",
            {"usr/lib/libapr-1.so.0": "stand-in apr\n"}, ""),
    "apache": ("2.4.67", "target", "Apache-2.0", ["apr", "pcre2", "toolchain"], "BR2_PACKAGE_APACHE",
               apache_files(), "cpe:2.3:a:apache:http_server:2.4.67:-:*:*:*:*:*:*"),
}  # fmt: skip
VIRTUAL = {"toolchain"}
SOURCES = {
    "toolchain-external-bootlin": "x86-64--glibc--stable-2025.08-1.tar.xz",
    "busybox": "busybox-1.37.0.tar.bz2",
    "pcre2": "pcre2-10.47.tar.bz2",
    "apr": "apr-1.7.6.tar.bz2",
    "apache": "httpd-2.4.67.tar.bz2",
    "host-fakeroot": "fakeroot-1.37.1.2.tar.gz",
}
SITES = {"apache": "https+https://archive.apache.org/dist/httpd"}


def fail(message: str) -> None:
    print(f"*** {message}.  Stop.", file=sys.stderr)
    sys.exit(2)


def symbols() -> dict[str, tuple[str, str]]:
    table = {}
    for line in (TOP / "symbols.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, default, depends = line.split()
            table[name] = (default.strip('"') if default.startswith('"') else default, depends)
    return table


def is_string(name: str) -> bool:
    return symbols()[name][0] not in ("y", "n")


def render(name: str, value: str) -> str:
    if is_string(name):
        return f'{name}="{value}"'
    return f"{name}=y" if value == "y" else f"# {name} is not set"


def parse(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        if line.startswith("BR2_") and "=" in line:
            name, _, value = line.partition("=")
            found[name] = value[1:-1] if value.startswith('"') else value
        elif line.startswith("# BR2_") and line.endswith(" is not set"):
            found[line.split()[1]] = "n"
    return found


def external() -> Path | None:
    remembered = OUTPUT / ".br2-external"
    value = EXTERNAL_ARG or (remembered.read_text().strip() if remembered.exists() else "")
    if not value:
        return None
    path = Path(value)
    if not (path / "external.desc").is_file():
        fail(f"br2-external: '{value}': no such file or directory")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    remembered.write_text(f"{path}\n")
    return path


def expand(value: str) -> str:
    ext = external()
    if ext is not None:
        name = next(line.split(":", 1)[1].strip() for line in (ext / "external.desc").read_text().splitlines()
                     if line.startswith("name:"))  # fmt: skip
        value = value.replace(f"$(BR2_EXTERNAL_{name}_PATH)", str(ext))
    return value.replace("$(TOPDIR)", str(TOP))


def visible(values: dict[str, str], name: str) -> bool:
    depends = symbols()[name][1]
    return depends == "-" or values.get(depends) == "y"


def write_config(values: dict[str, str], defconfig: str) -> None:
    lines = ["#", "# Automatically generated file; DO NOT EDIT.", "# Buildroot stand-in Configuration", "#"]
    arch = "x86_64" if values.get("BR2_x86_64") == "y" else "aarch64" if values.get("BR2_aarch64") == "y" else ""
    if arch:
        lines.append(f'BR2_ARCH="{arch}"')
    for name in symbols():
        if not visible(values, name):
            continue
        lines.append(render(name, values.get(name, symbols()[name][0])))
    lines.append(f'BR2_DEFCONFIG="{defconfig}"')
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / ".config").write_text("\n".join(lines) + "\n")
    print(f"#\n# configuration written to {OUTPUT / '.config'}\n#")


def load(defconfig: Path) -> None:
    table = symbols()
    values = {name: default for name, (default, _) in table.items()}
    for name, value in parse(defconfig.read_text()).items():
        if name in table:
            values[name] = value
        else:
            print(f"{defconfig}: warning: unknown symbol {name}", file=sys.stderr)
    write_config(values, str(defconfig))


def current() -> dict[str, str]:
    if not (OUTPUT / ".config").exists():
        fail('Please configure Buildroot first (e.g. "make menuconfig")')
    return parse((OUTPUT / ".config").read_text())


def enabled_packages(values: dict[str, str]) -> list[str]:
    return [name for name, spec in PACKAGES.items() if not spec[4] or values.get(spec[4]) == "y"]


def stamp_dir(name: str) -> str:
    version = PACKAGES[name][0]
    return f"build/{name}-{version}" if version else f"build/{name}"


def show_info() -> None:
    values = current()
    info: dict[str, object] = {}
    for name in enabled_packages(values):
        version, kind, licenses, depends, _, _, cpe = PACKAGES[name]
        entry: dict[str, object] = {"type": kind, "name": name.removeprefix("host-"), "virtual": name in VIRTUAL}
        if name not in VIRTUAL:
            source = SOURCES.get(name)
            uris = [
                SITES.get(name, f"https+https://example.invalid/{name}"),
                f"https+https://sources.buildroot.net/{name}",
            ]
            hash_file = f"package/{name}/{name}.hash"
            entry.update(
                version=version,
                licenses=licenses,
                license_files=[],
                redistributable=True,
                dl_dir=name,
                downloads=[{"source": source, "uris": uris}] if source else [],
                hashes=[hash_file] if (TOP / hash_file).exists() else [],
                patches=[],
            )
        entry.update(
            package_dir=f"package/{name}/",
            stamp_dir=stamp_dir(name),
            source_dir=stamp_dir(name),
            build_dir=stamp_dir(name) + "/",
            dependencies=sorted(depends),
            reverse_dependencies=[],
        )
        if cpe:
            entry["cpe-id"] = cpe
        info[name] = entry
    info["rootfs-common"] = {"type": "rootfs", "image_name": None, "dependencies": ["host-fakeroot"]}
    info["rootfs-tar"] = {"type": "rootfs", "image_name": "rootfs.tar", "dependencies": ["rootfs-common"]}
    print(json.dumps(info, sort_keys=True))


def copy_tree(source: Path, target: Path) -> None:
    """Like rsync -a: merge into target; a link or file replaces what was there."""
    for dirpath, dirnames, filenames in os.walk(source):
        here = Path(dirpath)
        for name in sorted(dirnames + filenames):
            src, dst = here / name, target / (here / name).relative_to(source)
            if src.is_symlink() or src.is_file():
                if dst.is_symlink() or dst.is_file():
                    dst.unlink()
                dst.parent.mkdir(parents=True, exist_ok=True)
                if src.is_symlink():
                    dst.symlink_to(os.readlink(src))
                else:
                    shutil.copy2(src, dst)
            else:
                dst.mkdir(parents=True, exist_ok=True)


def noise(name: str, count: int) -> None:
    for index in range(count):
        print(f"gcc -Os -c -o {name}/obj{index}.o {name}/src{index}.c")


def build() -> None:
    values = current()
    (OUTPUT / "standin-env.json").write_text(json.dumps(
        {key: os.environ.get(key) for key in ("BR2_DL_DIR", "BR2_CCACHE_DIR", "SOURCE_DATE_EPOCH")}))  # fmt: skip
    target = OUTPUT / "target"
    dl_dir = Path(os.environ.get("BR2_DL_DIR") or TOP / "dl")
    for name in enabled_packages(values):
        version, kind, _, _, _, files, _ = PACKAGES[name]
        stamp = OUTPUT / stamp_dir(name) / ".stamp_installed"
        if stamp.exists():
            continue
        source = SOURCES.get(name)
        if source and not (dl_dir / name / source).exists():
            print(f">>> {name} {version} Downloading", flush=True)
            (dl_dir / name).mkdir(parents=True, exist_ok=True)
            (dl_dir / name / source).write_text(f"stand-in source of {name} {version}\n")
        install = "Installing to host directory" if kind == "host" else "Installing to target"
        for step in ("Extracting", "Patching", "Configuring", "Building", install):
            print(f">>> {name} {version} {step}", flush=True)
            noise(name, 2)
            if step == "Building" and os.environ.get("STANDIN_FAIL_PACKAGE") == name:
                noise(name, 50)
                print(f"{name}/src50.c:42:1: error: stand-in failure requested by STANDIN_FAIL_PACKAGE")
                print(f"make: *** [package/pkg-generic.mk:273: {OUTPUT / stamp_dir(name)}/.stamp_built] Error 1")
                sys.exit(2)
        for relative, content in files.items():
            path = target / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
            path.chmod(0o755 if content.startswith("#!") else 0o644)
        if name == "busybox":
            (target / "bin/sh").unlink(missing_ok=True)
            (target / "bin/sh").symlink_to("busybox")
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.touch()
    print(">>>   Finalizing target directory", flush=True)
    for overlay in expand(values.get("BR2_ROOTFS_OVERLAY", "")).split():
        print(f">>>   Copying overlay {overlay}", flush=True)
        copy_tree(TOP / overlay, target)
    print(">>>   Generating root filesystems common tables", flush=True)
    print(">>>   Generating filesystem image rootfs.tar", flush=True)
    fs_target = OUTPUT / "build/buildroot-fs/tar/target"
    shutil.rmtree(fs_target.parent, ignore_errors=True)
    shutil.copytree(target, fs_target, symlinks=True)
    for script in expand(values.get("BR2_ROOTFS_POST_FAKEROOT_SCRIPT", "")).split():
        print(f">>>   Executing fakeroot script {script}", flush=True)
        if subprocess.run([script, str(fs_target)], check=False).returncode != 0:
            fail(f"fakeroot script {script} failed")
    (OUTPUT / "images").mkdir(parents=True, exist_ok=True)
    with tarfile.open(OUTPUT / "images/rootfs.tar", "w") as tar:
        for path in sorted(fs_target.rglob("*")):
            info = tar.gettarinfo(str(path), path.relative_to(fs_target).as_posix())
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            if info.isreg():
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    shutil.rmtree(fs_target.parent)


def main() -> None:
    if GOAL == "load":
        goal = GOAL_ARGS[0]
        ext = external()
        candidates = [TOP / "configs" / goal] + ([ext / "configs" / goal] if ext else [])
        found = [path for path in candidates if path.is_file()]
        if not found:
            fail(f'"Can\'t find {goal}"')
        load(found[-1])
    elif GOAL == "defconfig":
        external()
        load(Path(DEFCONFIG_ARG))
    elif GOAL == "savedefconfig":
        values = current()
        destination = Path(DEFCONFIG_ARG or values["BR2_DEFCONFIG"])
        lines = []
        for name, (default, _) in symbols().items():
            if name in values and visible(values, name) and values[name] != default:
                lines.append(render(name, values[name]))
        destination.write_text("\n".join(lines) + "\n")
    elif GOAL == "menuconfig":
        values = current()
        for assignment in os.environ.get("STANDIN_MENUCONFIG_SET", "").split():
            name, _, value = assignment.partition("=")
            values[name] = value
        print("stand-in menuconfig: applied", os.environ.get("STANDIN_MENUCONFIG_SET", "nothing"))
        write_config(values, values["BR2_DEFCONFIG"])
    elif GOAL == "show-info":
        show_info()
    else:
        external()
        build()


main()
