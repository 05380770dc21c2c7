"""invoke diff without an engine or registry: --against syntax, layer streaming, the comparison, the renderers.

Builds are written by the image stage's own code (tests/diff_fixtures.py) into temp project dirs.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest

from rootfs_ci import sbom
from rootfs_ci.diff import diff_image
from rootfs_ci.diff.render import as_json, markdown, note, text
from rootfs_ci.diff.side import SBOM_LABEL, SBOM_MEDIA_TYPE
from rootfs_ci.diff.sources import Against, latest_release, parse_against
from rootfs_ci.diff.tree import LayerStream, read_tree
from rootfs_ci.errors import ConfigError, ImageError
from tests.diff_fixtures import Item, settings_of, stage_build, write_rootfs
from tests.registry_fixtures import TINY, write_project

DIGEST = "sha256:" + "ab" * 32
BEFORE = {
    "bin": Item(directory=True),
    "bin/start.sh": Item(b"#!/bin/sh\necho old\n", 0o755),
    "etc": Item(directory=True),
    "etc/httpd.conf": b"Listen 80\n",
    "etc/gone": b"removed later\n",
    "etc/init.d": Item(directory=True),
    "etc/init.d/S50apache": Item(link="/usr/bin/apachectl"),
    "etc/shadow": Item(b"root:*:\n", 0o600),
    "README": b"top-level file\n",
}
AFTER = {
    **{name: item for name, item in BEFORE.items() if name != "etc/gone"},
    "bin/start.sh": Item(b"#!/bin/sh\necho new one\n", 0o755),
    "etc/init.d/S50apache": Item(link="/usr/sbin/apachectl"),
    "etc/shadow": Item(b"root:*:\n", 0o640, uid=1),
    "usr": Item(directory=True),
    "usr/share": Item(directory=True),
    "usr/share/mime.types": b"text/html html\n" * 10,
}
PACKAGES = {"busybox": "1:1.35.0-4+b3", "libc6": "2.36-9", "libgone": "1.0"}
NEW_PACKAGES = {"busybox": "1:1.36.1-9", "libc6": "2.36-9", "media-types": "10.0.0"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "project", target="127.0.0.1:9/unused")


def stage(project: Path) -> Path:
    return project / "dist" / TINY / "x86_64"


# -- --against ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "parsed"),
    [
        (None, Against("registry")),
        ("1.2.3", Against("registry", "1.2.3")),
        (DIGEST, Against("registry", DIGEST)),
        ("registry://127.0.0.1:5000/team/web:1.0.0", Against("registry", "1.0.0", "127.0.0.1:5000", "team/web")),
        (f"registry://ghcr.io/o/web@{DIGEST}", Against("registry", DIGEST, "ghcr.io", "o/web")),
        ("docker-image://apacheinit:dev", Against("engine", "apacheinit:dev")),
        ("./old/dist", Against("local", "./old/dist")),
        ("/tmp/build", Against("local", "/tmp/build")),
    ],
)
def test_against_syntax(given: str | None, parsed: Against) -> None:
    assert parse_against(given) == parsed


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("sha256:abc", "64 lowercase hex"),
        ("-bad", "not a valid image tag"),
        ("registry://127.0.0.1:5000/web", "registry://HOST[:PORT]/REPO:TAG"),
        ("docker-image://", "names no image"),
    ],
)
def test_against_mistakes_are_one_line(given: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_against(given)
    assert says in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_sbom_names_agree_with_the_sbom_module() -> None:
    assert (SBOM_LABEL, SBOM_MEDIA_TYPE) == (sbom.SBOM_LABEL, sbom.MEDIA_TYPE)


def test_latest_release_is_the_highest_version_without_pre_releases() -> None:
    tags = ["latest", "0.9.0", "v1.10.0", "1.9.3", "2.0.0-rc.1", "1", "1.10", "sha-0123456", "main"]
    assert latest_release(tags) == "v1.10.0"
    assert latest_release(["latest", "2.0.0-rc.1"]) is None


# -- layers -----------------------------------------------------------------------------------------


def _layer(entries: dict[str, Item | bytes], tmp_path: Path, name: str, *, compress: bool) -> LayerStream:
    path = tmp_path / f"{name}.tar"
    diff_id = "sha256:" + write_rootfs(path, entries)
    data = path.read_bytes()
    stored = gzip.compress(data) if compress else data
    return LayerStream(diff_id, lambda: io.BytesIO(stored))


@pytest.mark.parametrize("compress", [True, False])
def test_a_layer_is_streamed_hashed_and_sized_exactly(tmp_path: Path, compress: bool) -> None:
    layer = _layer(BEFORE, tmp_path, "one", compress=compress)
    tree, size = read_tree([layer], "test")
    assert size == (tmp_path / "one.tar").stat().st_size
    script = tree["/bin/start.sh"]
    assert (script.kind, script.mode, script.size) == ("file", 0o755, len(b"#!/bin/sh\necho old\n"))
    assert script.digest == "sha256:" + hashlib.sha256(b"#!/bin/sh\necho old\n").hexdigest()
    assert (tree["/etc/init.d/S50apache"].kind, tree["/etc/init.d/S50apache"].link) == ("symlink", "/usr/bin/apachectl")
    assert sorted(tree) == sorted("/" + name for name in BEFORE)


def test_whiteouts_of_a_later_layer_remove_paths_and_empty_directories(tmp_path: Path) -> None:
    base = _layer(BEFORE, tmp_path, "base", compress=True)
    upper = _layer({"etc/.wh.gone": b"", "etc/init.d/.wh..wh..opq": b"", "new": b"x"}, tmp_path, "up", compress=False)
    tree, _ = read_tree([base, upper], "test")
    assert "/etc/gone" not in tree and "/etc/init.d/S50apache" not in tree
    assert "/etc/init.d" in tree and "/new" in tree and "/etc/shadow" in tree


def test_a_layer_that_does_not_match_its_diff_id_is_refused(tmp_path: Path) -> None:
    layer = _layer(BEFORE, tmp_path, "one", compress=True)
    with pytest.raises(ImageError, match="not its diff_id"):
        read_tree([LayerStream(DIGEST, layer.open)], "test")


# -- two builds -------------------------------------------------------------------------------------


def two_builds(project: Path, tmp_path: Path) -> Path:
    """The 'before' build in tmp_path/old/dist (a path for --against), the current one in the project."""
    old = tmp_path / "old" / "dist"
    stage_build(old / TINY / "x86_64", BEFORE, PACKAGES)
    stage_build(stage(project), AFTER, NEW_PACKAGES)
    return old


def test_files_packages_sizes_and_directories_against_another_build(project: Path, tmp_path: Path) -> None:
    old = two_builds(project, tmp_path)
    report = diff_image(settings_of(project), None, None, str(old))
    changes = {change.path: (change.change, change.fields) for change in report.files}
    assert changes == {
        "/bin/start.sh": ("changed", ("size", "digest")),
        "/etc/gone": ("removed", ()),
        "/etc/init.d/S50apache": ("changed", ("link",)),
        "/etc/shadow": ("changed", ("mode", "owner")),
        "/usr": ("added", ()),
        "/usr/share": ("added", ()),
        "/usr/share/mime.types": ("added", ()),
    }
    assert [change.path for change in report.files] == sorted(changes)
    summary = {row.directory: (row.added, row.removed, row.changed, row.size_delta) for row in report.directories}
    assert summary == {"/bin": (0, 0, 1, 4), "/etc": (0, 1, 2, -len(b"removed later\n")), "/usr": (3, 0, 0, 150)}
    packages = {p.name: (p.change, p.before, p.after) for p in report.packages.changes}
    assert packages == {
        "busybox": ("changed", "1:1.35.0-4+b3", "1:1.36.1-9"),
        "libgone": ("removed", "1.0", None),
        "media-types": ("added", None, "10.0.0"),
    }
    rootfs, layer = report.sizes
    assert rootfs.before == (old / TINY / "x86_64" / "rootfs.tar").stat().st_size
    assert rootfs.after == (stage(project) / "rootfs.tar").stat().st_size
    assert layer.after == (stage(project) / "layer.tar.gz").stat().st_size
    assert rootfs.relative == pytest.approx((rootfs.after - rootfs.before) / rootfs.before)
    assert not report.identical and not report.warnings


def test_the_same_build_is_identical_in_one_line(project: Path, tmp_path: Path) -> None:
    stage_build(stage(project), BEFORE, PACKAGES)
    shutil.copytree(stage(project), tmp_path / "copy")
    report = diff_image(settings_of(project), None, None, str(tmp_path / "copy"))
    assert report.identical
    assert text(report).splitlines() == [
        f"{TINY}/x86_64: identical to {tmp_path / 'copy'} (same digest {report.after_digest[:19]})"
    ]
    assert "**identical**" in markdown(report)


def test_a_breached_budget_and_a_removed_smoke_tested_file_come_first(project: Path, tmp_path: Path) -> None:
    old = two_builds(project, tmp_path)
    spec = {
        "schemaVersion": "2.0.0",
        "sizeBudget": {"rootfsBytes": 1000},
        "fileExistenceTests": [
            {"name": "gone", "path": "/etc/gone"},
            {"name": "absent", "path": "/x", "shouldExist": False},
        ],
    }
    (project / "tests" / "smoke").mkdir(parents=True)
    (project / "tests" / "smoke" / f"{TINY}.yaml").write_text(json.dumps(spec))
    report = diff_image(settings_of(project), None, None, str(old))
    assert report.warnings == (
        f"size budget exceeded: rootfs is {report.sizes[0].after} bytes, over sizeBudget.rootfsBytes 1000",
        "smoke-tested file removed: /etc/gone",
    )
    lines = markdown(report).splitlines()
    assert lines[2:4] == [f"> :warning: **{warning}**" for warning in report.warnings]
    assert text(report).splitlines()[:2] == [f"WARNING: {warning}" for warning in report.warnings]


def test_a_side_without_its_sbom_is_named_instead_of_failing(project: Path, tmp_path: Path) -> None:
    old = two_builds(project, tmp_path)
    (old / TINY / "x86_64" / "sbom.json").unlink()
    (stage(project) / "sbom.json").write_text("{}")  # not the SBOM the image's label names
    report = diff_image(settings_of(project), None, None, str(old))
    assert report.packages.changes == ()
    assert len(report.packages.missing) == 2
    assert "sbom.json is missing" in report.packages.missing[0]
    assert "label names" in report.packages.missing[1]
    assert "**Packages**: not compared" in markdown(report)


def test_json_carries_every_change(project: Path, tmp_path: Path) -> None:
    old = two_builds(project, tmp_path)
    data = json.loads(as_json(diff_image(settings_of(project), None, None, str(old))))
    assert data["schema"] == 1 and data["identical"] is False
    assert data["files"][0]["path"] == "/bin/start.sh"
    assert data["sizes"][0]["delta"] == data["sizes"][0]["after"] - data["sizes"][0]["before"]
    assert {p["name"] for p in data["packages"]["changes"]} == {"busybox", "libgone", "media-types"}
    assert json.loads(note("nothing to compare", "json")) == {"schema": 1, "note": "nothing to compare"}


def test_a_path_without_a_build_is_one_line(project: Path, tmp_path: Path) -> None:
    stage_build(stage(project), BEFORE)
    with pytest.raises(ConfigError, match=r"no image.tar there, nor in tiny/x86_64/ or dist/tiny/x86_64/"):
        diff_image(settings_of(project), None, None, str(tmp_path / "nothing"))


def test_markdown_escapes_pipes_in_paths(project: Path, tmp_path: Path) -> None:
    stage_build(tmp_path / "old", {"a": b"1"})
    stage_build(stage(project), {"a": b"1", "b|c": b"2"})
    report = diff_image(settings_of(project), None, None, str(tmp_path / "old"))
    assert "| `/b\\|c` | added |" in markdown(report)
