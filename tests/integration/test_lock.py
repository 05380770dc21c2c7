"""The hermetic debian backend and its lock file, against a signed archive on loopback (issue #15)."""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.debian_archive import Deb, LocalArchive
from tests.helpers import CHANGELOG, REPO, Project, make_project

IMAGE = "tiny"
KEY = f"{IMAGE}/x86_64/debian"
NO_MIRROR_ENV = {
    "ROOTFS_CI_DEBIAN_MIRROR": "", "ROOTFS_CI_DEBIAN_SECURITY_MIRROR": "", "ROOTFS_CI_DEBIAN_SNAPSHOT_MIRROR": ""
}  # fmt: skip
SECURITY = "bookworm-security"


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalArchive]:
    local = LocalArchive(tmp_path_factory.mktemp("archive"))
    with local.serving():
        yield local


@pytest.fixture(scope="module")
def debs(archive: LocalArchive) -> dict[str, Deb]:
    return {
        "hello-1": archive.make_deb("hello-tool", "1.0-1", {"/usr/bin/hello": "#!/bin/sh\necho hello 1\n"}),
        "hello-2": archive.make_deb("hello-tool", "2.0-1", {"/usr/bin/hello": "#!/bin/sh\necho hello 2\n"}),
        "motd": archive.make_deb("motd-data", "1.0-1", {"/usr/share/motd": "welcome\n"}),
    }


def tiny_project(path: Path, archive: LocalArchive, *, mirror: bool = True) -> Project:
    path.mkdir()
    shutil.copy2(REPO / "tasks.py", path / "tasks.py")
    (path / "CHANGELOG.md").write_text(CHANGELOG)
    # one suite and no security archive unless a test adds them: the local archive has only bookworm
    sources = {
        "keyring": str(archive.keyring), "suites": ["bookworm"], "security_suite": "",
        **({"mirror": archive.url} if mirror else {}),
    }  # fmt: skip
    image = {
        "platforms": ["x86_64"],
        "debian": {
            "packages": ["hello-tool", "motd-data"],
            "files": {"/usr/bin/hello": "/bin/hello", "/usr/share/motd": "/etc/motd"},
            "busybox_links": False,
        },
    }
    config = {"cache_dir": str(path / "cache"), "debian_sources": sources, "images": {IMAGE: image}}
    (path / "invoke.yaml").write_text(yaml.safe_dump({"rootfs_ci": config}))
    return Project(path)


def hello_in_rootfs(project: Project) -> str:
    with tarfile.open(project.path / "dist" / IMAGE / "x86_64" / "rootfs.tar") as tar:
        member = tar.extractfile("bin/hello")
        assert member is not None
        return member.read().decode()


def locked_packages(project: Project) -> dict[str, dict[str, str]]:
    section = json.loads((project.path / "rootfs-ci.lock").read_text())["sections"][KEY]
    return {package["name"]: package for package in section["packages"]}


def lock_versions(project: Project) -> dict[str, str]:
    return {name: package["version"] for name, package in locked_packages(project).items()}


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")) if root.exists() else []:
        stat = path.lstat()
        digest.update(f"{path} {stat.st_mode:o} {stat.st_size} {stat.st_mtime_ns}\n".encode())
        if path.is_file() and not path.is_symlink():
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if not line.startswith("[build")]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("rootfs-ci: error: ")
    return lines[0]


def test_locked_build_stays_until_lock_update_moves_exactly_that_package(
    tmp_path: Path, archive: LocalArchive, debs: dict[str, Deb]
) -> None:
    host_apt = [Path("/etc/apt"), Path("/var/lib/apt/lists")]
    before = [tree_digest(root) for root in host_apt]
    archive.publish(debs["hello-1"], debs["motd"])
    project = tiny_project(tmp_path / "project", archive)

    first = project.invoke("build")
    assert first.returncode == 0, first.stderr
    assert f"locked {KEY} in rootfs-ci.lock" in first.stderr
    assert lock_versions(project) == {"hello-tool": "1.0-1", "motd-data": "1.0-1"}
    assert project.invoke("lock").returncode == 0  # adds the buildroot section, keeps the debian one
    assert lock_versions(project) == {"hello-tool": "1.0-1", "motd-data": "1.0-1"}
    locked = (project.path / "rootfs-ci.lock").read_text()

    archive.publish(debs["hello-2"], debs["motd"])  # the archive moves on; 1.0-1 is gone from it
    again = project.invoke("build", "--locked")
    assert again.returncode == 0, again.stderr
    assert hello_in_rootfs(project) == "#!/bin/sh\necho hello 1\n"
    assert (project.path / "rootfs-ci.lock").read_text() == locked

    update = project.invoke("lock", "--update")
    assert update.returncode == 0, update.stderr
    assert f"{KEY}: hello-tool 1.0-1 -> 2.0-1" in update.stdout
    diff = difflib.unified_diff(locked.splitlines(), (project.path / "rootfs-ci.lock").read_text().splitlines())
    changed = [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert len(changed) == 2 and all('"name": "hello-tool"' in line for line in changed), changed

    moved = project.invoke("build", "--locked")
    assert moved.returncode == 0, moved.stderr
    assert hello_in_rootfs(project) == "#!/bin/sh\necho hello 2\n"
    record = json.loads((project.path / "dist" / IMAGE / "x86_64" / "rootfs.json").read_text())
    sbom = (project.path / "dist" / IMAGE / "x86_64" / "sbom.json").read_text()
    assert record["lock_digest"].startswith("sha256:") and record["lock_digest"] in sbom
    assert [tree_digest(root) for root in host_apt] == before


def test_locked_version_neither_in_archive_nor_cache_fails_in_one_line(
    tmp_path: Path, archive: LocalArchive, debs: dict[str, Deb]
) -> None:
    archive.publish(debs["hello-1"], debs["motd"])
    project = tiny_project(tmp_path / "project", archive)
    assert project.invoke("lock").returncode == 0
    archive.publish(debs["hello-2"], debs["motd"])

    result = project.invoke("build")
    assert result.returncode != 0
    line = one_error_line(result.stderr)
    assert "locked package hello-tool 1.0-1 (amd64) is in neither the cache nor the archive" in line
    assert not (project.path / "dist").exists()
    leftovers = [p for p in (project.path / "cache").rglob("*") if p.is_file() and "hello-tool" in p.name]
    assert leftovers == []
    assert list((project.path / "cache" / "tmp").iterdir()) == []


def test_wrong_sha256_in_the_lock_is_refused(tmp_path: Path, archive: LocalArchive, debs: dict[str, Deb]) -> None:
    archive.publish(debs["hello-1"], debs["motd"])
    project = tiny_project(tmp_path / "project", archive)
    assert project.invoke("lock").returncode == 0
    lock_file = project.path / "rootfs-ci.lock"
    real = hashlib.sha256(debs["hello-1"].path.read_bytes()).hexdigest()
    lock_file.write_text(lock_file.read_text().replace(real, "0" * 64))

    result = project.invoke("build")
    assert result.returncode != 0
    assert f"sha256 is {real}, expected {'0' * 64}" in one_error_line(result.stderr)
    assert not (project.path / "dist").exists()


def test_lock_rules_missing_mirror_locked_flag_and_stale_lock(tmp_path: Path, archive: LocalArchive) -> None:
    project = tiny_project(tmp_path / "project", archive, mirror=False)
    no_mirror = project.invoke("build", env=NO_MIRROR_ENV)
    assert no_mirror.returncode != 0
    assert one_error_line(no_mirror.stderr) == (
        f"rootfs-ci: error: no Debian mirror for image {IMAGE}: set rootfs_ci.debian_sources.mirror in "
        "invoke.yaml or ROOTFS_CI_DEBIAN_MIRROR"
    )

    from_env = project.invoke("build", "--locked", env={"ROOTFS_CI_DEBIAN_MIRROR": archive.url})
    assert "--locked forbids writing one" in one_error_line(from_env.stderr)
    assert not (project.path / "rootfs-ci.lock").exists()

    assert project.invoke("lock", env={"ROOTFS_CI_DEBIAN_MIRROR": archive.url}).returncode == 0
    project.edit_config(lambda data: data["rootfs_ci"]["images"][IMAGE]["debian"]["packages"].pop())
    stale = project.invoke("build", env={"ROOTFS_CI_DEBIAN_MIRROR": archive.url})
    assert stale.returncode == 2
    assert one_error_line(stale.stderr).endswith(f"{KEY} no longer matches invoke.yaml (packages changed); "
                                                 "run invoke lock --update")  # fmt: skip


def test_an_index_signed_by_another_key_is_refused(tmp_path: Path, archive: LocalArchive, debs: dict[str, Deb]) -> None:
    archive.publish(debs["hello-1"], debs["motd"])
    project = tiny_project(tmp_path / "project", archive)
    other = LocalArchive(tmp_path / "other").keyring  # a key that did not sign this archive
    project.edit_config(lambda data: data["rootfs_ci"]["debian_sources"].update(keyring=str(other)))
    result = project.invoke("lock")
    assert result.returncode != 0
    assert "InRelease: signature not valid for keyring" in one_error_line(result.stderr)
    assert not (project.path / "rootfs-ci.lock").exists()
    assert os.listdir(project.path / "cache" / "tmp") == []


def test_the_same_apacheinit_with_the_host_apt_state_hidden(tmp_path: Path, shared_cache: Path) -> None:
    """The real archive (mirror from $ROOTFS_CI_DEBIAN_MIRROR), the committed lock: a build with the
    host's /etc/apt and /var/lib/apt/lists hidden under empty tmpfs mounts, from an empty cache, makes
    the same rootfs and SBOM as one on the host as it is."""
    normal = make_project(tmp_path / "normal", shared_cache)
    hidden = make_project(tmp_path / "hidden", tmp_path / "empty-cache")
    assert normal.invoke("build", "--locked").returncode == 0
    script = (
        "mount -t tmpfs none /var/lib/apt/lists && mount -t tmpfs none /etc/apt && "
        f'test -z "$(ls -A /etc/apt)$(ls -A /var/lib/apt/lists)" && exec {sys.executable} -m invoke build --locked'
    )
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", script], cwd=hidden.path, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "fetched busybox_" in result.stderr  # from the archive, not from a cache
    records = [json.loads((p.path / "dist/apacheinit/x86_64/rootfs.json").read_text()) for p in (normal, hidden)]
    assert records[0]["rootfs"] == records[1]["rootfs"]
    assert records[0]["sbom"] == records[1]["sbom"]
    assert records[0]["lock_digest"] == records[1]["lock_digest"]


def test_snapshot_resolves_and_serves_what_the_mirror_no_longer_has(
    tmp_path: Path, archive: LocalArchive, debs: dict[str, Deb]
) -> None:
    snapshot = "20250101T000000Z"
    archive.publish(debs["hello-1"], debs["motd"])
    shutil.rmtree(archive.root / "snap", ignore_errors=True)
    shutil.copytree(archive.archive, archive.root / "snap" / snapshot)  # the archive as it was then
    archive.publish(debs["hello-2"], debs["motd"])  # the mirror today: 1.0-1 is gone from its pool
    project = tiny_project(tmp_path / "project", archive)
    snapshot_mirror = archive.url.rsplit("/", 1)[0] + "/snap"
    project.edit_config(
        lambda data: data["rootfs_ci"]["debian_sources"].update(snapshot=snapshot, snapshot_mirror=snapshot_mirror)
    )
    result = project.invoke("build")
    assert result.returncode == 0, result.stderr
    assert lock_versions(project) == {"hello-tool": "1.0-1", "motd-data": "1.0-1"}
    assert hello_in_rootfs(project) == "#!/bin/sh\necho hello 1\n"
    section = json.loads((project.path / "rootfs-ci.lock").read_text())["sections"][KEY]
    assert {package["snapshot"] for package in section["packages"]} == {snapshot}


def test_the_newest_version_across_suites_is_locked_and_fetched_from_its_archive(
    tmp_path: Path, archive: LocalArchive, debs: dict[str, Deb]
) -> None:
    """bookworm on the mirror has hello-tool 1.0-1; the security archive (its own URL and pool
    layout) has 2.0-1. Without a security mirror: one warning line and 1.0-1; with one: 2.0-1 from
    bookworm-security, which only the security archive serves."""
    archive.publish(debs["hello-1"], debs["motd"])
    archive.publish(debs["hello-2"], suite=SECURITY, archive="debian-security", pool="pool/updates/main")
    security_url = archive.url.rsplit("/", 1)[0] + "/debian-security"
    project = tiny_project(tmp_path / "project", archive)
    project.edit_config(lambda data: data["rootfs_ci"]["debian_sources"].update(security_suite=SECURITY))

    unsecured = project.invoke("lock", env=NO_MIRROR_ENV)
    assert unsecured.returncode == 0, unsecured.stderr
    warnings = [line for line in unsecured.stderr.splitlines() if "warning" in line]
    assert warnings == [
        f"rootfs-ci: warning: security updates are not included: no mirror for {SECURITY}; set "
        "rootfs_ci.debian_sources.security_mirror in invoke.yaml or ROOTFS_CI_DEBIAN_SECURITY_MIRROR "
        "(security_suite: '' silences this)"
    ]
    assert lock_versions(project) == {"hello-tool": "1.0-1", "motd-data": "1.0-1"}

    update = project.invoke("lock", "--update", env={**NO_MIRROR_ENV, "ROOTFS_CI_DEBIAN_SECURITY_MIRROR": security_url})
    assert update.returncode == 0, update.stderr
    assert "warning" not in update.stderr
    assert f"{KEY}: hello-tool 1.0-1 -> 2.0-1" in update.stdout
    hello, motd = locked_packages(project)["hello-tool"], locked_packages(project)["motd-data"]
    assert (hello["version"], hello["suite"], motd["suite"]) == ("2.0-1", SECURITY, "bookworm")
    assert hello["filename"].startswith("pool/updates/main/h/hello-tool/")

    shutil.rmtree(project.path / "cache" / "debs", ignore_errors=True)  # the build must fetch 2.0-1
    no_security = project.invoke("build", "--locked", env=NO_MIRROR_ENV)
    assert no_security.returncode == 2
    assert one_error_line(no_security.stderr).startswith(
        f"rootfs-ci: error: no Debian security mirror for image {IMAGE} (its lock has {SECURITY} packages)"
    )
    assert not (project.path / "dist").exists()
    built = project.invoke("build", "--locked", env={**NO_MIRROR_ENV, "ROOTFS_CI_DEBIAN_SECURITY_MIRROR": security_url})
    assert built.returncode == 0, built.stderr
    assert hello_in_rootfs(project) == "#!/bin/sh\necho hello 2\n"
