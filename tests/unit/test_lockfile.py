"""The lock file's format, the lock policy's staleness rules and where the mirror comes from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from rootfs_ci.config import Settings, parse_config
from rootfs_ci.errors import ConfigError
from rootfs_ci.rootfs.lockfile import LockedDeb, LockSection, changes, read_lock, render_lock, write_lock
from rootfs_ci.rootfs.locking import Target, lock_targets, stale_reason
from rootfs_ci.rootfs.sources import MIRROR_ENV, SECURITY_MIRROR_ENV, image_sources
from rootfs_ci.starter import starter_files


def deb(name: str, version: str) -> LockedDeb:
    return LockedDeb(name, version, "amd64", 10, "ab" * 32, f"pool/main/{name[0]}/{name}/{name}_{version}.deb",
                     "bookworm", "")  # fmt: skip


def settings(tmp_path: Path, config: dict[str, object]) -> Settings:
    (tmp_path / "invoke.yaml").write_text(yaml.safe_dump({"rootfs_ci": config}))
    return Settings(tmp_path, parse_config(config, tmp_path / "invoke.yaml"), 0)


IMAGE = {"platforms": ["x86_64", "aarch64"], "debian": {"packages": ["busybox", "libc6"]}}


def test_lock_text_is_stable_one_package_per_line_and_reads_back(tmp_path: Path) -> None:
    sections = {
        "b/x86_64/debian": LockSection("debian", {"packages": ["zlib", "abc"]}, (deb("zlib", "2"), deb("abc", "1"))),
        "a/x86_64/buildroot": LockSection("buildroot", {"buildroot": "2026.02.3", "commit": "0" * 40}),
    }
    path = tmp_path / "rootfs-ci.lock"
    write_lock(path, sections)
    text = path.read_text()
    assert text == render_lock(dict(reversed(sections.items())))  # order of the dict does not matter
    assert text.index('"a/x86_64/buildroot"') < text.index('"b/x86_64/debian"')
    package_lines = [line for line in text.splitlines() if '"name": ' in line]
    assert [json.loads(line.strip().rstrip(","))["name"] for line in package_lines] == ["abc", "zlib"]
    assert json.loads(text)["lock_version"] == 1
    assert read_lock(path) == {**sections, "b/x86_64/debian": LockSection(
        "debian", {"packages": ["zlib", "abc"]}, (deb("abc", "1"), deb("zlib", "2")))}  # fmt: skip


def test_digest_changes_with_any_pinned_field() -> None:
    section = LockSection("debian", {"packages": ["abc"]}, (deb("abc", "1"),))
    moved = LockSection("debian", {"packages": ["abc"]}, (deb("abc", "2"),))
    assert section.digest().startswith("sha256:") and len(section.digest()) == 71
    assert section.digest() == LockSection("debian", {"packages": ["abc"]}, (deb("abc", "1"),)).digest()
    assert section.digest() != moved.digest()
    assert changes(section, moved) == ["abc 1 -> 2"]
    assert changes(None, moved) == ["new (1 packages)"]


def test_a_broken_lock_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "rootfs-ci.lock"
    path.write_text('{"lock_version": 1, "sections": {"a/x86_64/debian": {"inputs": {}}}}')
    with pytest.raises(ConfigError, match=r"is not a rootfs-ci lock file .*restore it from git"):
        read_lock(path)
    assert read_lock(tmp_path / "missing.lock") == {}


def test_stale_when_packages_or_sources_change_but_not_the_mirror(tmp_path: Path) -> None:
    config = settings(tmp_path, {"images": {"img": IMAGE}})
    target = Target("img", config.config.images["img"], "x86_64", "debian")
    inputs = {
        "packages": ["busybox", "libc6"], "suites": ["bookworm", "bookworm-updates"],
        "security_suite": "bookworm-security", "components": ["main"], "snapshot": "",
    }  # fmt: skip
    assert stale_reason(config, target, LockSection("debian", inputs)) is None
    assert stale_reason(config, target, LockSection("debian", {**inputs, "packages": ["busybox"]})) == "packages"
    moved = settings(tmp_path, {"debian_sources": {"mirror": "http://127.0.0.1:1/debian"}, "images": {"img": IMAGE}})
    assert stale_reason(moved, target, LockSection("debian", inputs)) is None
    newer = settings(
        tmp_path, {"images": {"img": {**IMAGE, "debian": {**IMAGE["debian"], "sources": {"suites": ["trixie"]}}}}}
    )
    newer_target = Target("img", newer.config.images["img"], "x86_64", "debian")
    assert stale_reason(newer, newer_target, LockSection("debian", inputs)) == "suites"
    secured = settings(
        tmp_path, {"debian_sources": {"security_mirror": "http://127.0.0.1:1/s"}, "images": {"img": IMAGE}}
    )
    assert stale_reason(secured, target, LockSection("debian", inputs)) is None  # a mirror is transport only
    unsecured = settings(tmp_path, {"debian_sources": {"security_suite": ""}, "images": {"img": IMAGE}})
    assert stale_reason(unsecured, target, LockSection("debian", inputs)) == "security_suite"


def test_lock_pins_both_backends_per_architecture(tmp_path: Path) -> None:
    config = settings(tmp_path, {"images": {"img": IMAGE, "br": {"backend": "buildroot"}}})
    keys = [target.key for target in lock_targets(config, ["img", "br"])]
    assert keys == ["img/x86_64/debian", "img/x86_64/buildroot", "img/aarch64/debian", "img/aarch64/buildroot",
                    "br/x86_64/buildroot"]  # fmt: skip


def test_mirror_precedence_image_then_project_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MIRROR_ENV, "http://127.0.0.1:3/env/")
    image = {**IMAGE, "debian": {**IMAGE["debian"], "sources": {"mirror": "http://127.0.0.1:1/image"}}}
    config = settings(tmp_path, {"debian_sources": {"mirror": "http://127.0.0.1:2/project"},
                                 "images": {"img": image, "plain": IMAGE}})  # fmt: skip
    assert image_sources(config, "img", config.config.images["img"]).mirror == "http://127.0.0.1:1/image"
    assert image_sources(config, "plain", config.config.images["plain"]).mirror == "http://127.0.0.1:2/project"
    bare = settings(tmp_path, {"images": {"plain": IMAGE}})
    assert image_sources(bare, "plain", bare.config.images["plain"]).mirror == "http://127.0.0.1:3/env"
    monkeypatch.setenv(MIRROR_ENV, "")
    with pytest.raises(ConfigError, match=r"^no Debian mirror for image plain: set rootfs_ci\.debian_sources\.mirror"):
        image_sources(bare, "plain", bare.config.images["plain"]).mirror_url()
    monkeypatch.setenv(MIRROR_ENV, "ftp://x")
    with pytest.raises(ConfigError, match="ROOTFS_CI_DEBIAN_MIRROR='ftp://x' is not an http"):
        image_sources(bare, "plain", bare.config.images["plain"])


def test_security_mirror_precedence_and_which_archive_serves_a_suite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MIRROR_ENV, "http://127.0.0.1:1/debian")
    monkeypatch.setenv(SECURITY_MIRROR_ENV, "http://127.0.0.1:3/env-security/")
    image = {**IMAGE, "debian": {**IMAGE["debian"], "sources": {"security_mirror": "http://127.0.0.1:4/image"}}}
    config = settings(tmp_path, {"debian_sources": {"security_mirror": "http://127.0.0.1:2/project"},
                                 "images": {"img": image, "plain": IMAGE}})  # fmt: skip
    assert image_sources(config, "img", config.config.images["img"]).security_mirror == "http://127.0.0.1:4/image"
    plain = image_sources(config, "plain", config.config.images["plain"])
    assert plain.security_mirror == "http://127.0.0.1:2/project"
    bare = settings(tmp_path, {"images": {"plain": IMAGE}})
    sources = image_sources(bare, "plain", bare.config.images["plain"])
    assert sources.indexes() == [
        ("http://127.0.0.1:1/debian", "bookworm"), ("http://127.0.0.1:1/debian", "bookworm-updates"),
        ("http://127.0.0.1:3/env-security", "bookworm-security"),
    ]  # fmt: skip
    assert sources.mirror_for("bookworm-updates") == "http://127.0.0.1:1/debian"
    assert sources.mirror_for("bookworm-security") == "http://127.0.0.1:3/env-security"
    assert sources.security_gap() is None


def test_without_a_security_mirror_the_security_suite_is_left_out_with_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MIRROR_ENV, "http://127.0.0.1:1/debian")
    monkeypatch.setenv(SECURITY_MIRROR_ENV, "")
    bare = settings(tmp_path, {"images": {"plain": IMAGE}})
    sources = image_sources(bare, "plain", bare.config.images["plain"])
    assert [suite for _, suite in sources.indexes()] == ["bookworm", "bookworm-updates"]
    assert "security updates are not included: no mirror for bookworm-security" in (sources.security_gap() or "")
    with pytest.raises(ConfigError, match=r"^no Debian security mirror for image plain .* ROOTFS_CI_DEBIAN_SECURITY"):
        sources.mirror_for("bookworm-security")
    opted_out = settings(tmp_path, {"debian_sources": {"security_suite": ""}, "images": {"plain": IMAGE}})
    assert image_sources(opted_out, "plain", opted_out.config.images["plain"]).security_gap() is None
    snapshot = settings(tmp_path, {"debian_sources": {"snapshot": "20250520T000000Z", "security_mirror":
                                                      "http://127.0.0.1:2/s"}, "images": {"plain": IMAGE}})  # fmt: skip
    from_snapshot = image_sources(snapshot, "plain", snapshot.config.images["plain"])
    assert "resolves from snapshot 20250520T000000Z" in (from_snapshot.security_gap() or "")


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        ({"suites": []}, "suites needs at least one Debian suite"),
        ({"security_suite": "Bookworm Security"}, "not a valid Debian suite"),
        ({"security_mirror": "security.example"}, "not a valid security_mirror URL"),
        ({"mirror": "deb.example"}, "not a valid mirror URL"),
        ({"snapshot": "yesterday"}, "not a valid snapshot timestamp"),
        ({"components": []}, "components needs at least one"),
    ],
)
def test_bad_sources_are_config_errors(tmp_path: Path, sources: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings(tmp_path, {"debian_sources": sources})


def test_starter_writes_the_mirror_only_when_given() -> None:
    def config(mirror: str) -> str:
        return next(f.text for f in starter_files("web", "o/r", "v1", mirror) if f.path.name == "invoke.yaml")

    assert yaml.safe_load(config("http://127.0.0.1:1/debian"))["rootfs_ci"]["debian_sources"] == {
        "mirror": "http://127.0.0.1:1/debian"
    }
    assert "debian_sources" not in yaml.safe_load(config(""))["rootfs_ci"]
    with pytest.raises(ConfigError, match="--debian-mirror 'ftp://x' is not an http"):
        config("ftp://x")
