"""The buildroot backend's plain logic: check-dotconfig's rule, '>>>' lines, package counting,
the BR2_EXTERNAL tree, the inputs that force a clean build, and the post-fakeroot trimming script."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from rootfs_ci.buildroot.buildlog import PackageTracker, Step, parse_step
from rootfs_ci.buildroot.dotconfig import dropped_lines, significant_lines, values
from rootfs_ci.buildroot.external import load_external
from rootfs_ci.config import ImageConfig
from rootfs_ci.errors import ConfigError
from rootfs_ci.rootfs.buildroot import inputs_key

REPO = Path(__file__).resolve().parents[2]
EXTERNAL = REPO / "buildroot-config"
POST_FAKEROOT = EXTERNAL / "board/rootfs-ci/post-fakeroot.sh"

DEFCONFIG = """\
BR2_x86_64=y
# BR2_TARGET_GENERIC_GETTY is not set
BR2_ROOTFS_OVERLAY="$(BR2_EXTERNAL_ROOTFS_CI_PATH)/../overlay"
# a comment, not a symbol
BR2_PACKAGE_APACHE=y
"""

DOTCONFIG = """\
#
# Automatically generated file; DO NOT EDIT.
#
BR2_ARCH="x86_64"
BR2_x86_64=y
# BR2_TARGET_GENERIC_GETTY is not set
BR2_ROOTFS_OVERLAY="$(BR2_EXTERNAL_ROOTFS_CI_PATH)/../overlay"
BR2_PACKAGE_APACHE=y
BR2_TARGET_ROOTFS_TAR=y
"""


def test_significant_lines_are_symbol_lines_only() -> None:
    assert significant_lines(DEFCONFIG) == [
        "BR2_x86_64=y",
        "# BR2_TARGET_GENERIC_GETTY is not set",
        'BR2_ROOTFS_OVERLAY="$(BR2_EXTERNAL_ROOTFS_CI_PATH)/../overlay"',
        "BR2_PACKAGE_APACHE=y",
    ]


def test_a_defconfig_whose_lines_all_survive_drops_nothing() -> None:
    assert dropped_lines(DEFCONFIG, DOTCONFIG) == []


def test_unknown_symbols_and_unmet_dependencies_are_reported_in_defconfig_order() -> None:
    defconfig = DEFCONFIG + "BR2_NO_SUCH_SYMBOL=y\n# BR2_PACKAGE_APACHE_MOD_MD is not set\n"
    # kconfig writes no '# ... is not set' for a symbol whose menu is hidden, so that line is lost too.
    assert dropped_lines(defconfig, DOTCONFIG) == ["BR2_NO_SUCH_SYMBOL=y", "# BR2_PACKAGE_APACHE_MOD_MD is not set"]


def test_a_changed_value_counts_as_dropped() -> None:
    dotconfig = DOTCONFIG.replace("BR2_PACKAGE_APACHE=y", "# BR2_PACKAGE_APACHE is not set")
    assert dropped_lines(DEFCONFIG, dotconfig) == ["BR2_PACKAGE_APACHE=y"]


def test_surrounding_whitespace_is_ignored_as_check_dotconfig_does() -> None:
    assert dropped_lines("  BR2_x86_64=y  \n", "BR2_x86_64=y\n") == []


def test_values_of_a_dotconfig() -> None:
    parsed = values(DOTCONFIG + 'BR2_TARGET_GENERIC_ISSUE="say \\"hi\\""\n')
    assert parsed["BR2_ARCH"] == "x86_64"
    assert parsed["BR2_TARGET_GENERIC_GETTY"] == "n"
    assert parsed["BR2_ROOTFS_OVERLAY"] == "$(BR2_EXTERNAL_ROOTFS_CI_PATH)/../overlay"
    assert parsed["BR2_TARGET_GENERIC_ISSUE"] == 'say "hi"'


@pytest.mark.parametrize(
    ("line", "step"),
    [
        (">>> busybox 1.36.1 Building", Step("busybox", "1.36.1", "Building")),
        (">>> apache 2.4.67 Installing to target", Step("apache", "2.4.67", "Installing to target")),
        (">>> host-skeleton  Extracting", Step("host-skeleton", "", "Extracting")),
        (">>>   Finalizing target directory", Step("", "", "Finalizing target directory")),
        (">>>   Copying overlay /p/overlay", Step("", "", "Copying overlay /p/overlay")),
        ("\x1b[7m>>> pcre2 10.47 Configuring\x1b[27m", Step("pcre2", "10.47", "Configuring")),
        ("gcc -Os -c foo.c", None),
        ("make: *** [package/pkg-generic.mk:273: x/.stamp_built] Error 1", None),
    ],
)
def test_parse_step(line: str, step: Step | None) -> None:
    assert parse_step(line) == step


def test_step_text() -> None:
    assert str(Step("busybox", "1.36.1", "Building")) == "busybox 1.36.1: Building"
    assert str(Step("host-skeleton", "", "Extracting")) == "host-skeleton: Extracting"
    assert str(Step("", "", "Finalizing target directory")) == "Finalizing target directory"


def test_tracker_counts_installed_stamps_of_announced_packages(tmp_path: Path) -> None:
    show_info = {
        "busybox": {"type": "target", "stamp_dir": "build/busybox-1.37.0"},
        "apache": {"type": "target", "stamp_dir": "build/apache-2.4.67"},
        "host-tar": {"type": "host", "stamp_dir": "build/host-tar-1.35"},
        "rootfs-tar": {"type": "rootfs", "image_name": "rootfs.tar"},
    }
    (tmp_path / "build/host-tar-1.35").mkdir(parents=True)
    (tmp_path / "build/host-tar-1.35/.stamp_installed").touch()
    tracker = PackageTracker(show_info, tmp_path)
    assert tracker.counts() == "[1/3]"  # built by an earlier run; filesystems are not packages
    (tmp_path / "build/busybox-1.37.0").mkdir(parents=True)
    (tmp_path / "build/busybox-1.37.0/.stamp_installed").touch()
    assert tracker.counts() == "[1/3]"
    tracker.announce("apache")
    assert tracker.counts() == "[1/3]"  # busybox's stamp exists, but the log has not reached busybox yet
    tracker.announce("busybox")
    assert tracker.counts() == "[2/3]"
    tracker.announce("")  # Buildroot's own steps
    tracker.finish()
    assert tracker.counts() == "[2/3]"  # apache never got its stamp


def test_the_external_tree_of_this_repository() -> None:
    external = load_external(REPO, "buildroot-config")
    assert external.name == "ROOTFS_CI"
    assert external.path_variable == "BR2_EXTERNAL_ROOTFS_CI_PATH"
    assert external.defconfig("apacheinit", ImageConfig()).name == "apacheinit_defconfig"
    assert external.expand("$(BR2_EXTERNAL_ROOTFS_CI_PATH)/../overlay", Path("/br")) == f"{EXTERNAL}/../overlay"
    assert external.expand("$(TOPDIR)/board $(OTHER)", Path("/br")) == "/br/board $(OTHER)"


def test_the_repository_defconfigs_keep_root_locked_and_getty_off() -> None:
    for name in ("apacheinit", "testrfs"):
        config = values((EXTERNAL / f"configs/{name}_defconfig").read_text())
        assert config["BR2_TARGET_ENABLE_ROOT_LOGIN"] == "n"
        assert config["BR2_TARGET_GENERIC_GETTY"] == "n"
        assert config["BR2_x86_64"] == "y"
    apacheinit = values((EXTERNAL / "configs/apacheinit_defconfig").read_text())
    assert apacheinit["BR2_PACKAGE_APACHE_MPM_EVENT"] == "y"
    assert apacheinit["BR2_ROOTFS_OVERLAY"] == "$(BR2_EXTERNAL_ROOTFS_CI_PATH)/../overlay"


def test_the_repository_defconfigs_use_the_pinned_bootlin_glibc_toolchain_of_their_architecture() -> None:
    # x86_64: Bootlin is kconfig's default external toolchain there, so savedefconfig leaves its line out.
    expected = [("apacheinit", "X86_64", False), ("testrfs", "X86_64", False),
                ("apacheinit_aarch64", "AARCH64", True), ("testrfs_aarch64", "AARCH64", True)]  # fmt: skip
    for name, variant, bootlin_line in expected:
        config = values((EXTERNAL / f"configs/{name}_defconfig").read_text())
        assert config["BR2_TOOLCHAIN_EXTERNAL"] == "y", name
        assert config[f"BR2_TOOLCHAIN_EXTERNAL_BOOTLIN_{variant}_GLIBC_STABLE"] == "y", name
        assert ("BR2_TOOLCHAIN_EXTERNAL_BOOTLIN" in config) is bootlin_line, name
        assert not any(symbol.startswith("BR2_KERNEL_HEADERS") for symbol in config), name


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda root: None, "BR2_EXTERNAL directory 'ext' does not exist"),
        (lambda root: (root / "ext").mkdir(), "external.desc, Config.in, external.mk missing"),
    ],
)
def test_external_tree_problems_are_one_line(tmp_path: Path, setup, message: str) -> None:
    setup(tmp_path)
    with pytest.raises(ConfigError, match=message):
        load_external(tmp_path, "ext")


def test_external_desc_needs_a_valid_name(tmp_path: Path) -> None:
    shutil.copytree(EXTERNAL, tmp_path / "ext")
    (tmp_path / "ext/external.desc").write_text("name: ROOTFS-CI\n")
    with pytest.raises(ConfigError, match="needs a 'name: NAME' line"):
        load_external(tmp_path, "ext")


def test_missing_defconfig_names_the_file_and_the_setting(tmp_path: Path) -> None:
    external = load_external(REPO, "buildroot-config")
    with pytest.raises(ConfigError, match=r"nosuch_defconfig does not exist.*images\.nosuch\.buildroot\.defconfig"):
        external.defconfig("nosuch", ImageConfig())
    with pytest.raises(ConfigError, match="must be a NAME_defconfig file name"):
        external.defconfig("web", ImageConfig.model_validate({"buildroot": {"defconfig": "../x_defconfig"}}))


def test_inputs_key_follows_what_buildroot_cannot_redo_incrementally(tmp_path: Path) -> None:
    shutil.copytree(EXTERNAL, tmp_path / "ext")
    shutil.copytree(REPO / "overlay", tmp_path / "overlay", symlinks=True)
    external = load_external(tmp_path, "ext")
    defconfig = tmp_path / "ext/configs/apacheinit_defconfig"
    overlays = [tmp_path / "overlay"]

    def key() -> str:
        return inputs_key("c" * 40, "x86_64", defconfig, external, overlays)

    first = key()
    assert key() == first
    assert inputs_key("d" * 40, "x86_64", defconfig, external, overlays) != first
    (tmp_path / "overlay/etc/apache2/httpd.conf").write_text("# edited\n")
    assert key() == first  # Buildroot copies overlays again on every build
    (tmp_path / "ext/configs/testrfs_defconfig").write_text("BR2_x86_64=y\n")
    assert key() == first  # another image's defconfig
    (tmp_path / "overlay/etc/motd").write_text("hello\n")
    second = key()
    assert second != first  # a new overlay file: a removed one would stay in output/target
    (tmp_path / "ext/board/rootfs-ci/post-fakeroot.sh").write_text("#!/bin/sh\n")
    third = key()
    assert third != second
    defconfig.write_text(defconfig.read_text() + "BR2_PACKAGE_STRACE=y\n")
    assert key() != third


def make_target(root: Path, httpd_conf: str | None) -> Path:
    """A rootfs copy as Buildroot's apache package leaves it, with the overlay's httpd.conf."""
    files = [
        "etc/apache2/original/httpd.conf", "etc/apache2/extra/httpd-ssl.conf", "etc/apache2/magic",
        "etc/apache2/mime.types", "usr/icons/apache_pb.gif", "usr/error/README", "usr/cgi-bin/printenv",
        "usr/htdocs/index.html", "usr/bin/httpd", "usr/bin/apachectl", "usr/bin/envvars", "usr/bin/ab",
        "usr/bin/htpasswd", "usr/bin/rotatelogs", "bin/busybox",
    ]  # fmt: skip
    modules = ["authz_core", "mime", "dir", "slotmem_shm", "unixd", "log_config", "status", "ssl", "proxy", "cgi"]
    files += [f"usr/modules/mod_{name}.so" for name in modules]
    for relative in files:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text("x\n")
    if httpd_conf is not None:
        (root / "etc/apache2/httpd.conf").write_text(httpd_conf)
    return root


def remaining(root: Path) -> set[str]:
    return {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}


def run_post_fakeroot(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(POST_FAKEROOT), str(root)], capture_output=True, text=True, check=True)


def test_post_fakeroot_keeps_only_what_the_overlay_httpd_conf_uses(tmp_path: Path) -> None:
    root = make_target(tmp_path, (REPO / "overlay/etc/apache2/httpd.conf").read_text())
    result = run_post_fakeroot(root)
    assert remaining(root) == {
        "bin/busybox",
        "etc/apache2/httpd.conf",
        "usr/bin/apachectl",
        "usr/bin/envvars",
        "usr/bin/httpd",
        "usr/htdocs/index.html",
        # every module a LoadModule line names, guarded or not (event is built into httpd)
        "usr/modules/mod_authz_core.so",
        "usr/modules/mod_dir.so",
        "usr/modules/mod_log_config.so",
        "usr/modules/mod_mime.so",
        "usr/modules/mod_slotmem_shm.so",
        "usr/modules/mod_unixd.so",
    }
    assert "kept 6 httpd modules that httpd.conf loads, removed 4" in result.stdout


def test_post_fakeroot_keeps_what_httpd_conf_mentions(tmp_path: Path) -> None:
    conf = """\
ServerRoot "/usr"
# LoadModule status_module modules/mod_status.so   (a comment loads nothing)
LoadModule cgi_module /usr/modules/mod_cgi.so
loadmodule "mime_module" "modules/mod_mime.so"
Include /etc/apache2/extra/httpd-ssl.conf
Alias /icons/ "/usr/icons/"
ScriptAlias /cgi-bin/ "/usr/cgi-bin/"
TypesConfig /etc/apache2/mime.types
CustomLog "|/usr/bin/rotatelogs /var/log/access 86400" common
# 'ab' must not match inside other words: Table, enable
"""
    root = make_target(tmp_path, conf)
    run_post_fakeroot(root)
    left = remaining(root)
    assert {"usr/modules/mod_cgi.so", "usr/modules/mod_mime.so"} == {p for p in left if p.startswith("usr/modules/")}
    for kept in ("etc/apache2/extra/httpd-ssl.conf", "usr/icons/apache_pb.gif", "usr/cgi-bin/printenv",
                 "etc/apache2/mime.types", "usr/bin/rotatelogs"):  # fmt: skip
        assert kept in left
    for dropped in ("usr/bin/ab", "usr/bin/htpasswd", "etc/apache2/magic", "usr/error/README"):
        assert dropped not in left


def test_post_fakeroot_leaves_images_without_apache_alone(tmp_path: Path) -> None:
    root = make_target(tmp_path, None)
    before = remaining(root)
    run_post_fakeroot(root)
    assert remaining(root) == before


def elf(path: Path, *, soname: str = "", needs: tuple[Path, ...] = ()) -> Path:
    """A real ELF file built by the host's cc: a shared library named soname, or a program; it
    names each of needs (shared libraries) in DT_NEEDED."""
    path.parent.mkdir(parents=True, exist_ok=True)
    source = path.parent / f"{path.name}.c"
    source.write_text("int rootfs_ci_probe(void) { return 0; }\n" if soname else "int main(void) { return 0; }\n")
    shared = ["-shared", "-fPIC", f"-Wl,-soname,{soname}"] if soname else []
    linked = ["-Wl,--no-as-needed", *(str(library) for library in needs)]
    subprocess.run(["cc", *shared, "-o", str(path), str(source), *linked], check=True, capture_output=True)
    source.unlink()
    return path


def test_post_fakeroot_drops_the_toolchain_runtime_libraries_nothing_needs(tmp_path: Path) -> None:
    root = tmp_path / "target"
    gomp = elf(root / "usr/lib/libgomp.so.1.0.0", soname="libgomp.so.1")
    atomic = elf(root / "lib/libatomic.so.1.2.0", soname="libatomic.so.1")
    elf(root / "lib/libstdc++.so.6.0.33", soname="libstdc++.so.6")
    (root / "lib/libstdc++.so.6.0.33-gdb.py").write_text("# gdb pretty printers\n")
    for link, target in (("lib/libstdc++.so.6", "libstdc++.so.6.0.33"), ("usr/lib/libgomp.so.1", "libgomp.so.1.0.0"),
                         ("lib/libatomic.so.1", "libatomic.so.1.2.0")):  # fmt: skip
        (root / link).symlink_to(target)
    (root / "lib/libgcc_s.so.1").write_text("not linked by anything, but glibc dlopens it\n")
    elf(root / "usr/bin/server", needs=(gomp,))  # a program needs libgomp
    elf(root / "usr/lib/libplugin.so", soname="libplugin.so", needs=(atomic,))  # a library needs libatomic

    result = run_post_fakeroot(root)

    left = {path.relative_to(root).as_posix() for path in root.rglob("*")}
    assert not any(name.startswith("lib/libstdc++") for name in left)
    assert {"usr/lib/libgomp.so.1", "usr/lib/libgomp.so.1.0.0", "lib/libatomic.so.1", "lib/libatomic.so.1.2.0",
            "lib/libgcc_s.so.1", "usr/bin/server", "usr/lib/libplugin.so"} <= left  # fmt: skip
    assert "removed toolchain runtime libraries nothing needs: libstdc++.so.6\n" in result.stdout


def test_post_fakeroot_refuses_to_guess_without_readelf(tmp_path: Path) -> None:
    root = tmp_path / "target"
    (root / "lib").mkdir(parents=True)
    (root / "lib/libstdc++.so.6").write_text("x\n")
    result = subprocess.run(
        [str(POST_FAKEROOT), str(root)],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "READELF": "no-readelf"},
    )
    assert result.returncode == 1
    assert result.stderr == (
        "post-fakeroot: no-readelf not found; install binutils (or set READELF) so unused libraries can be told apart\n"
    )
    assert (root / "lib/libstdc++.so.6").exists()
