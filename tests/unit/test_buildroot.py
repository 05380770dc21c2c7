"""The buildroot backend against the stand-in for Buildroot's make interface (tests/standin/).

The stand-in is served as a real git repository with a release tag (file:// URL), so cloning,
commit verification and the source cache run for real; Buildroot itself cannot be downloaded here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from rootfs_ci.buildroot import configure
from rootfs_ci.config import NAMESPACE, Settings, load_settings
from rootfs_ci.errors import BackendError, ConfigError
from rootfs_ci.fsutil import sha256_file
from rootfs_ci.progress import Progress
from rootfs_ci.rootfs.build import build_rootfs
from tests.helpers import Project, make_project

STANDIN = Path(__file__).resolve().parents[1] / "standin"
TAG = "2026.02.3"
EPOCH = "1781643700"


@dataclass(frozen=True)
class StandinRepo:
    path: Path
    url: str
    commit: str


def git(*args: str, cwd: Path) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}  # fmt: skip
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="session")
def standin_repo(tmp_path_factory: pytest.TempPathFactory) -> StandinRepo:
    """The stand-in as a git repository with an annotated release tag, like Buildroot's."""
    path = tmp_path_factory.mktemp("standin") / "buildroot.git"
    shutil.copytree(STANDIN, path, ignore=shutil.ignore_patterns("__pycache__"))
    git("init", "-q", cwd=path)
    git("add", "-A", cwd=path)
    git("commit", "-qm", "stand-in for Buildroot", cwd=path)
    git("tag", "-a", TAG, "-m", f"Buildroot {TAG} (stand-in)", cwd=path)
    return StandinRepo(path, f"file://{path}", git("rev-parse", "HEAD", cwd=path))


@pytest.fixture
def br_project(tmp_path: Path, standin_repo: StandinRepo) -> Project:
    """A copy of this project whose Buildroot pin points at the stand-in; a cache of its own."""
    project = make_project(tmp_path / "project", tmp_path / "cache")
    project.edit_config(
        lambda data: data[NAMESPACE].update(buildroot={"git_url": standin_repo.url, "commit": standin_repo.commit})
    )
    (project.path / "rootfs-ci.lock").unlink()  # it pins the real Buildroot commit; builds here lock the stand-in
    return project


def settings_of(project: Project) -> Settings:
    raw = yaml.safe_load(project.config_file.read_text())[NAMESPACE]
    return load_settings(raw, project.path, {"SOURCE_DATE_EPOCH": EPOCH})


def set_buildroot(project: Project, **values: str) -> None:
    project.edit_config(lambda data: data[NAMESPACE]["buildroot"].update(values))


def cache(project: Project) -> Path:
    return project.path.parent / "cache" / "buildroot"


def clones(project: Project) -> list[Path]:
    sources = cache(project) / "src"
    return sorted(sources.iterdir()) if sources.exists() else []


def progress_lines(stderr: str) -> list[str]:
    return [line.split("] ", 1)[1] for line in stderr.splitlines() if line.startswith("[build ")]


def test_build_streams_progress_and_writes_rootfs_and_sbom(br_project: Project, capsys) -> None:
    settings = settings_of(br_project)
    record = build_rootfs(settings, "apacheinit", None, "buildroot")
    err = capsys.readouterr().err
    lines = progress_lines(err)

    # One progress line per package step, with done/total; compiler noise stays in the log.
    assert "[0/9] packages built so far; full log: " + str(cache(br_project) / "logs/apacheinit-x86_64.log") in lines
    assert any(line.endswith("apache 2.4.67: Building") for line in lines)
    assert any(line.endswith("host-skeleton: Extracting") for line in lines)
    script = br_project.path / "buildroot-config/board/rootfs-ci/post-fakeroot.sh"
    assert f"[9/9] Executing fakeroot script {script}" in lines
    assert "[9/9] Buildroot finished" in lines
    assert "gcc -Os" not in err
    # The build pinned the stand-in's commit in the lock file, and records that section's digest.
    section = json.loads((br_project.path / "rootfs-ci.lock").read_text())["sections"]["apacheinit/x86_64/buildroot"]
    assert section["inputs"]["commit"] == settings.config.buildroot.commit
    assert record.lock_digest is not None and record.lock_digest.startswith("sha256:")
    log = (cache(br_project) / "logs/apacheinit-x86_64.log").read_text()
    assert "gcc -Os -c -o apache/obj0.o apache/src0.c" in log
    assert ">>> apache 2.4.67 Building" in log

    # Buildroot got the shared caches and the build's timestamp.
    output = cache(br_project) / "output/apacheinit-x86_64"
    env = json.loads((output / "standin-env.json").read_text())
    assert env == {
        "BR2_DL_DIR": str(cache(br_project) / "dl"),
        "BR2_CCACHE_DIR": str(cache(br_project) / "ccache"),
        "SOURCE_DATE_EPOCH": EPOCH,
    }
    assert (cache(br_project) / "dl/apache/httpd-2.4.67.tar.bz2").is_file()

    # The overlay, unchanged, on Buildroot's apache: its init symlink replaces the package's script.
    dist = br_project.path / "dist/apacheinit/x86_64"
    with tarfile.open(dist / "rootfs.tar") as tar:
        members = {member.name: member for member in tar.getmembers()}
        assert members["etc/init.d/S50apache"].issym()
        assert members["etc/init.d/S50apache"].linkname == "/usr/bin/apachectl"
        conf = tar.extractfile("etc/apache2/httpd.conf")
        assert conf is not None
        assert conf.read() == (br_project.path / "overlay/etc/apache2/httpd.conf").read_bytes()
        assert members["bin/start.sh"].mode == 0o755
        assert members["etc/shadow"].mode == 0o600
        assert {name for name in members if name.startswith("usr/modules/")} == {
            f"usr/modules/mod_{name}.so" for name in ("authz_core", "mime", "dir", "slotmem_shm", "unixd", "log_config")
        }
        assert not any(name.startswith(("usr/icons", "usr/cgi-bin", "etc/apache2/original")) for name in members)
        # The toolchain's C++ and OpenMP runtimes, which nothing links, are trimmed; libc and libgcc_s stay.
        assert {"lib/libc.so.6", "lib/libgcc_s.so.1"} <= set(members)
        assert not {"lib/libstdc++.so.6", "lib/libgomp.so.1"} & set(members)
        assert {member.mtime for member in members.values()} == {int(EPOCH)}

    assert record.backend == "buildroot"
    assert record.rootfs.sha256 == sha256_file(dist / "rootfs.tar")
    assert record.buildroot["commit"] == settings.config.buildroot.commit
    assert record.buildroot["defconfig"] == "buildroot-config/configs/apacheinit_defconfig"
    assert {p["name"]: p["used"] for p in record.packages} == {
        "apache": True, "apr": True, "busybox": True, "pcre2": True, "skeleton-init-sysv": True,
        "toolchain-external-bootlin": True,
        "host-fakeroot": False, "host-skeleton": False,
    }  # fmt: skip

    sbom_text = (dist / "sbom.json").read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(sbom_text) is None
    sbom = json.loads(sbom_text)
    assert record.sbom.sha256 == sha256_file(dist / "sbom.json")
    assert record.labels == {"org.rootfs-ci.sbom": f"sha256:{record.sbom.sha256}"}
    assert sbom["metadata"]["component"]["hashes"][0]["content"] == record.rootfs.sha256
    apache = next(c for c in sbom["components"] if c["bom-ref"] == "buildroot:apache")
    hashes = apache["externalReferences"][0]["hashes"]
    # the hash comes from the (stand-in) source tree's package/apache/apache.hash
    assert hashes == [{"alg": "SHA-256", "content": "6df13ceab6e90c9410b79dc5cb570494a9eeb8b19a1f3a377a3e62b098069cac"}]
    assert list((br_project.path.parent / "cache/tmp").iterdir()) == []


def test_second_build_uses_the_cached_source_and_output(br_project: Project, standin_repo: StandinRepo, capsys) -> None:
    settings = settings_of(br_project)
    first = build_rootfs(settings, "testrfs", None, "buildroot")
    [checkout] = clones(br_project)
    inode = checkout.stat().st_ino
    capsys.readouterr()
    # Proof of no second clone: the origin is gone, yet the build works from the cache.
    hidden = standin_repo.path.with_name("hidden.git")
    standin_repo.path.rename(hidden)
    try:
        second = build_rootfs(settings, "testrfs", None, "buildroot")
    finally:
        hidden.rename(standin_repo.path)
    lines = progress_lines(capsys.readouterr().err)
    assert f"Buildroot {TAG}: cached source {checkout}" in lines
    assert not any("cloning" in line for line in lines)
    assert clones(br_project) == [checkout]
    assert checkout.stat().st_ino == inode
    # Buildroot's output dir is kept too: every package was already installed.
    assert "[6/6] packages built so far; full log: " + str(cache(br_project) / "logs/testrfs-x86_64.log") in lines
    assert not any(line.endswith("Building") for line in lines)
    assert second.rootfs.sha256 == first.rootfs.sha256


def test_changed_defconfig_starts_from_a_clean_output_dir(br_project: Project, capsys) -> None:
    settings = settings_of(br_project)
    build_rootfs(settings, "testrfs", None, "buildroot")
    defconfig = br_project.path / "buildroot-config/configs/testrfs_defconfig"
    defconfig.write_text(defconfig.read_text().replace("# BR2_TARGET_GENERIC_GETTY is not set\n", ""))
    capsys.readouterr()
    build_rootfs(settings, "testrfs", None, "buildroot")
    lines = progress_lines(capsys.readouterr().err)
    assert any(line.startswith("inputs changed since the last build: starting again in a clean") for line in lines)
    assert any(line.endswith("busybox 1.37.0: Building") for line in lines)


def test_failing_package_reports_package_step_and_last_40_lines(
    br_project: Project, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("STANDIN_FAIL_PACKAGE", "apache")
    log = cache(br_project) / "logs/apacheinit-x86_64.log"
    with pytest.raises(BackendError) as failure:
        build_rootfs(settings_of(br_project), "apacheinit", None, "buildroot")
    assert str(failure.value) == (
        f"Buildroot build: package apache 2.4.67 failed at step 'Building' (exit status 2); full log: {log}"
    )
    err = capsys.readouterr().err.splitlines()
    header = next(
        i for i, line in enumerate(err) if "Buildroot failed in apache 2.4.67: Building; last 40 lines" in line
    )
    tail = err[header + 1 :]
    assert len(tail) == 40
    assert tail == log.read_text().splitlines()[-40:]
    assert "error: stand-in failure requested by STANDIN_FAIL_PACKAGE" in tail[-3]
    assert br_project.files("dist") == []
    assert list((br_project.path.parent / "cache/tmp").iterdir()) == []


def test_commit_mismatch_is_refused_and_nothing_is_cached(br_project: Project, standin_repo: StandinRepo) -> None:
    set_buildroot(br_project, commit="1" * 40)
    with pytest.raises(BackendError) as failure:
        build_rootfs(settings_of(br_project), "apacheinit", None, "buildroot")
    assert str(failure.value).startswith(
        f"Buildroot tag {TAG} at {standin_repo.url} is commit {standin_repo.commit[:12]}, not the pinned 111111111111;"
    )
    assert clones(br_project) == []
    assert br_project.files("dist") == []


@pytest.mark.parametrize("url", ["file:///nonexistent/buildroot.git", "http://127.0.0.1:1/buildroot.git"])
def test_no_network_is_one_line_naming_url_tag_and_the_way_out(br_project: Project, url: str) -> None:
    set_buildroot(br_project, git_url=url)
    result = br_project.invoke("build", "--image", "apacheinit", "--backend", "buildroot")
    assert result.returncode == 3, result.stderr
    errors = [line for line in result.stderr.splitlines() if not line.startswith("[")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(
        f"rootfs-ci: error: cannot get Buildroot {TAG}: 'git clone --depth 1 --branch {TAG} {url}' failed ("
    )
    assert errors[0].endswith(
        f"without network, set rootfs_ci.buildroot.source_dir to a Buildroot checkout of tag {TAG} "
        f"(commit {settings_of(br_project).config.buildroot.commit[:12]})"
    )
    assert "Traceback" not in result.stderr
    assert clones(br_project) == []
    assert br_project.files("dist") == []


def test_source_dir_builds_offline_and_must_be_at_the_pinned_commit(
    br_project: Project, standin_repo: StandinRepo, tmp_path: Path
) -> None:
    checkout = tmp_path / "my-buildroot"
    git("clone", "-q", "--branch", TAG, standin_repo.url, str(checkout), cwd=tmp_path)
    set_buildroot(br_project, source_dir=str(checkout), git_url="http://127.0.0.1:1/unreachable.git")
    record = build_rootfs(settings_of(br_project), "testrfs", None, "buildroot")
    assert record.rootfs.size > 0
    assert clones(br_project) == []

    (checkout / "NEWS").write_text("local change\n")
    git("add", "NEWS", cwd=checkout)
    git("commit", "-qm", "local", cwd=checkout)
    with pytest.raises(ConfigError, match=rf"source_dir: {checkout} is at commit \w{{12}}, not Buildroot {TAG}"):
        build_rootfs(settings_of(br_project), "testrfs", None, "buildroot")


def test_unknown_image_missing_external_and_wrong_arch(br_project: Project) -> None:
    with pytest.raises(ConfigError, match="unknown image 'nosuch'"):
        build_rootfs(settings_of(br_project), "nosuch", None, "buildroot")

    configs = br_project.path / "buildroot-config/configs"
    shutil.copy2(configs / "testrfs_defconfig", configs / "testrfs_aarch64_defconfig")  # the x86_64 one, misnamed
    with pytest.raises(ConfigError, match="testrfs_aarch64_defconfig builds for x86_64, not aarch64"):
        build_rootfs(settings_of(br_project), "testrfs", "aarch64", "buildroot")

    set_buildroot(br_project, external="no-such-tree")
    shutil.rmtree(cache(br_project), ignore_errors=True)
    with pytest.raises(ConfigError, match=r"rootfs_ci\.buildroot\.external: BR2_EXTERNAL directory 'no-such-tree'"):
        build_rootfs(settings_of(br_project), "testrfs", None, "buildroot")
    assert clones(br_project) == []  # checked before any download


def test_an_image_overlay_the_defconfig_does_not_apply_is_refused(br_project: Project) -> None:
    defconfig = br_project.path / "buildroot-config/configs/apacheinit_defconfig"
    defconfig.write_text("".join(line for line in defconfig.read_text().splitlines(True) if "OVERLAY" not in line))
    with pytest.raises(ConfigError, match=r"images\.apacheinit\.overlays lists 'overlay', but .* does not apply it"):
        build_rootfs(settings_of(br_project), "apacheinit", None, "buildroot")
    assert br_project.files("dist") == []


def test_cli_build_with_the_buildroot_backend(br_project: Project) -> None:
    result = br_project.invoke(
        "build", "--image", "apacheinit", "--backend", "buildroot", env={"SOURCE_DATE_EPOCH": EPOCH}
    )
    assert result.returncode == 0, result.stderr
    record = json.loads((br_project.path / "dist/apacheinit/x86_64/rootfs.json").read_text())
    assert (
        result.stdout
        == f"rootfs apacheinit/x86_64: {record['rootfs']['size']} bytes sha256:{record['rootfs']['sha256']}\n"
    )
    assert sorted(p.name for p in br_project.files("dist")) == ["rootfs.json", "rootfs.tar", "sbom.json"]
    assert "[9/9] Buildroot finished" in result.stderr


def test_cli_check_passes_for_the_repository_defconfigs(br_project: Project) -> None:
    result = br_project.invoke("buildroot.check")
    assert result.returncode == 0, result.stderr
    form = "lines kept by kconfig, savedefconfig form"
    assert result.stdout.splitlines() == [
        f"apacheinit/x86_64: buildroot-config/configs/apacheinit_defconfig: all 13 {form}",
        f"apacheinit/aarch64: buildroot-config/configs/apacheinit_aarch64_defconfig: all 14 {form}",
        f"testrfs/x86_64: buildroot-config/configs/testrfs_defconfig: all 9 {form}",
        f"testrfs/aarch64: buildroot-config/configs/testrfs_aarch64_defconfig: all 10 {form}",
    ]


def test_cli_check_reports_dropped_lines_and_savedefconfig_refuses_them(br_project: Project) -> None:
    defconfig = br_project.path / "buildroot-config/configs/testrfs_defconfig"
    broken = defconfig.read_text() + "BR2_NO_SUCH_SYMBOL=y\nBR2_PACKAGE_APACHE_MPM_EVENT=y\n"
    defconfig.write_text(broken)
    result = br_project.invoke("buildroot.check", "--image", "testrfs", "--arch", "x86_64")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "rootfs-ci: error: buildroot-config/configs/testrfs_defconfig: kconfig dropped 'BR2_NO_SUCH_SYMBOL=y', "
        "'BR2_PACKAGE_APACHE_MPM_EVENT=y' (unknown symbol, or one whose dependencies are not enabled); "
        "fix or remove those lines of image testrfs's defconfig"
    )
    # savedefconfig would silently lose those lines: it refuses and leaves the file alone.
    settings = settings_of(br_project)
    ws, [(name, image, arch)] = configure.workspace(settings, Progress("test"), "testrfs", every=False)
    assert arch == "x86_64"
    with pytest.raises(ConfigError, match="kconfig dropped 'BR2_NO_SUCH_SYMBOL=y'"):
        configure.savedefconfig(ws, name, image, arch)
    assert defconfig.read_text() == broken


def test_cli_check_all_then_savedefconfig_normalises(br_project: Project) -> None:
    defconfig = br_project.path / "buildroot-config/configs/testrfs_defconfig"
    original = defconfig.read_text()
    defconfig.write_text("".join(reversed(original.splitlines(True))))
    result = br_project.invoke("buildroot.check")
    assert result.returncode == 2
    assert "testrfs/x86_64: buildroot-config/configs/testrfs_defconfig is not in savedefconfig form (line 1:" in (
        result.stderr
    )
    assert result.stderr.splitlines()[-1] == (
        "rootfs-ci: error: 1 of 4 defconfigs failed the check (testrfs/x86_64); see above"
    )
    assert result.stdout.startswith("apacheinit/x86_64: ")

    result = br_project.invoke("buildroot.savedefconfig", "--image", "testrfs")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "buildroot-config/configs/testrfs_defconfig: updated\n"
    assert defconfig.read_text() == original
    assert oct(defconfig.stat().st_mode & 0o777) == "0o644"
    assert sorted(p.name for p in (br_project.path / "buildroot-config/configs").iterdir()) == [
        "apacheinit_aarch64_defconfig", "apacheinit_defconfig", "testrfs_aarch64_defconfig", "testrfs_defconfig",
    ]  # fmt: skip


def test_cli_menuconfig_saves_the_edit_back_in_normal_form(br_project: Project) -> None:
    defconfig = br_project.path / "buildroot-config/configs/testrfs_defconfig"
    original = defconfig.read_text()
    # The stand-in's menuconfig plays the user: enable apache with the event MPM.
    edit = {"STANDIN_MENUCONFIG_SET": "BR2_PACKAGE_APACHE=y BR2_PACKAGE_APACHE_MPM_EVENT=y"}
    result = br_project.invoke("buildroot.menuconfig", "--image", "testrfs", env=edit)
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("buildroot-config/configs/testrfs_defconfig: updated\n")
    lines = original.splitlines()
    at = lines.index("# BR2_PACKAGE_IFUPDOWN_SCRIPTS is not set")
    assert defconfig.read_text().splitlines() == [
        *lines[:at], "BR2_PACKAGE_APACHE=y", "BR2_PACKAGE_APACHE_MPM_EVENT=y", *lines[at:],
    ]  # fmt: skip
    ws, [target] = configure.workspace(settings_of(br_project), Progress("test"), "testrfs", every=False)
    assert configure.check_image(ws, *target).endswith("all 11 lines kept by kconfig, savedefconfig form")
