"""Hostile archives and overlays never write outside their staging dir (property tests)."""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, event, find, given, settings
from hypothesis import strategies as st

from rootfs_ci.archive import extract_tar
from rootfs_ci.errors import BackendError, UnsafeArchiveError
from rootfs_ci.fsutil import resolve_in_root
from rootfs_ci.rootfs.overlay import apply_overlay
from rootfs_ci.rootfs.tarball import check_size

SEGMENTS = st.sampled_from(["a", "b", "etc", "..", ".", "", "lib", "x y"])
PATHS = st.lists(SEGMENTS, min_size=1, max_size=5).map("/".join)
NAMES = st.one_of(PATHS, PATHS.map(lambda p: "/" + p), PATHS.map(lambda p: "../" + p))
LINK_TARGETS = st.one_of(NAMES, st.just("/"), st.just("/etc/passwd"), st.just("../../../../tmp"))


@st.composite
def hostile_members(draw: st.DrawFn) -> list[tuple[str, str, str]]:
    kinds = st.sampled_from(["file", "dir", "symlink", "hardlink", "fifo", "chr"])
    return draw(st.lists(st.tuples(kinds, NAMES, LINK_TARGETS), min_size=1, max_size=8))


def make_tar(members: list[tuple[str, str, str]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for kind, name, target in members:
            info = tarfile.TarInfo(name)
            data = b""
            if kind == "file":
                data = b"pwned\n"
                info.size = len(data)
                info.mode = 0o4755  # setuid must not survive
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, target
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, target
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            else:
                info.type = tarfile.CHRTYPE
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def everything_under(root: Path) -> set[Path]:
    return {Path(dirpath) / name for dirpath, dirs, files in os.walk(root) for name in dirs + files}


def benign_members(members: list[tuple[str, str, str]]) -> bool:
    """Only plain files and directories with plain relative names, and no file where another member
    needs a directory: an archive extract_tar must accept."""
    if any(kind not in ("file", "dir") for kind, _, _ in members):
        return False
    if any(segment in ("", ".", "..") for _, name, _ in members for segment in name.split("/")):
        return False
    files = {name for kind, name, _ in members if kind == "file"}
    dirs = {name for kind, name, _ in members if kind == "dir"}
    inside_a_file = any(name.startswith(file + "/") for file in files for _, name, _ in members)
    return not inside_a_file and not files & dirs


def assert_extracted(members: list[tuple[str, str, str]], into: Path) -> None:
    """A benign archive's top-level entries are all there, files as files and directories as directories."""
    assert {p.name for p in into.iterdir()} == {name.split("/")[0] for _, name, _ in members}
    for kind, name, _ in members:
        if "/" not in name:
            assert (into / name).is_file() if kind == "file" else (into / name).is_dir(), f"{name} is not a {kind}"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(members=hostile_members())
def test_extraction_stays_inside_or_refuses(tmp_path_factory: pytest.TempPathFactory, members) -> None:
    sandbox = tmp_path_factory.mktemp("sandbox")
    outside = sandbox / "outside"
    outside.mkdir()
    (outside / "victim").write_text("safe\n")
    into = sandbox / "into"
    if benign_members(members):
        event("benign archive: must be accepted")
        extract_tar(io.BytesIO(make_tar(members)), into, "benign.tar")  # refusing it would be a bug
        assert_extracted(members, into)
    else:
        with contextlib.suppress(UnsafeArchiveError, BackendError):
            extract_tar(io.BytesIO(make_tar(members)), into, "hostile.tar")
    # nothing was written beside the destination, the victim is untouched
    assert {p.name for p in sandbox.iterdir()} <= {"outside", "into"}
    assert everything_under(outside) == {outside / "victim"}
    assert (outside / "victim").read_text() == "safe\n"
    for path in everything_under(into):
        if path.is_symlink():
            continue
        assert path.resolve().is_relative_to(into.resolve())
        mode = path.lstat().st_mode
        assert not mode & 0o6000, f"{path} kept a setuid/setgid bit"
        assert path.is_file() or path.is_dir(), f"{path} is a device or FIFO"


@pytest.mark.parametrize(
    ("members", "error"),
    [
        ([("file", "../escape", "")], UnsafeArchiveError),
        ([("file", "/abs/escape", "")], None),  # leading slash is stripped: lands inside
        ([("symlink", "link", "/"), ("file", "link/escape", "")], UnsafeArchiveError),
        ([("hardlink", "h", "/etc/passwd")], UnsafeArchiveError),
        ([("fifo", "pipe", "")], UnsafeArchiveError),
        ([("chr", "dev", "")], UnsafeArchiveError),
    ],
)
def test_known_tricks(tmp_path: Path, members, error) -> None:
    into = tmp_path / "into"
    if error is None:
        extract_tar(io.BytesIO(make_tar(members)), into, "t.tar")
        assert (into / "abs/escape").read_text() == "pwned\n"
    else:
        with pytest.raises(error, match=r"t\.tar: refused unsafe member"):
            extract_tar(io.BytesIO(make_tar(members)), into, "t.tar")
    assert not (tmp_path / "escape").exists()


def test_corrupt_archives_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match=r"t\.tar: corrupt archive"):
        extract_tar(io.BytesIO(b"this is not a tar file at all" * 40), tmp_path / "into", "t.tar")
    truncated = make_tar([("file", "a", "")])[:700]
    with pytest.raises(BackendError, match="corrupt archive"):
        extract_tar(io.BytesIO(truncated), tmp_path / "into2", "t.tar")


@st.composite
def hostile_trees(draw: st.DrawFn) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """(links already in the rootfs, overlay entries) with links pointing anywhere."""
    tree_links = draw(st.lists(st.tuples(PATHS, LINK_TARGETS), max_size=4))
    overlay = draw(
        st.lists(st.tuples(st.sampled_from(["file", "dir", "symlink"]), PATHS, LINK_TARGETS), min_size=1, max_size=6)
    )
    return tree_links, overlay


def build_overlay(overlay: Path, overlay_entries: list[tuple[str, str, str]]) -> None:
    """The overlay dir the entries describe, built inside itself; entries that clash with earlier ones are skipped."""
    overlay.mkdir()
    for kind, name, target in overlay_entries:
        relative = "/".join(part for part in name.split("/") if part not in ("", ".", ".."))
        if not relative:
            continue
        try:
            path = resolve_in_root(overlay, relative, follow_last=False)  # build the overlay inside itself
            path.parent.mkdir(parents=True, exist_ok=True)
            if kind == "file" and not path.exists() and not path.is_symlink():  # never write through a link
                path.write_text("pwned\n")
            elif kind == "dir" and not path.exists():
                path.mkdir()
            elif kind == "symlink" and not path.exists() and not path.is_symlink():
                path.symlink_to(target)
        except (OSError, UnsafeArchiveError):
            continue


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=hostile_trees())
def test_overlays_never_write_outside_the_rootfs(tmp_path_factory: pytest.TempPathFactory, case) -> None:
    tree_links, overlay_entries = case
    sandbox = tmp_path_factory.mktemp("overlay")
    outside = sandbox / "outside"
    outside.mkdir()
    tree = sandbox / "tree"
    tree.mkdir()
    for link, target in tree_links:
        try:
            path = resolve_in_root(tree, link, follow_last=False)
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists() and not path.is_symlink():
                path.symlink_to(target.replace("..", str(outside)) if target.startswith("..") else target)
        except (UnsafeArchiveError, OSError):
            continue
    overlay = sandbox / "overlay"
    build_overlay(overlay, overlay_entries)
    if benign_tree(case):
        event("benign overlay: must be applied")
        apply_overlay(overlay, tree)  # refusing it would be a bug
        assert relative_entries(tree) == relative_entries(overlay)
    else:
        with contextlib.suppress(BackendError, UnsafeArchiveError, OSError):
            apply_overlay(overlay, tree)
    assert everything_under(outside) == set()
    assert {p.name for p in sandbox.iterdir()} <= {"outside", "tree", "overlay"}


def benign_tree(case: tuple[list[tuple[str, str]], list[tuple[str, str, str]]]) -> bool:
    """No links in the rootfs and none in the overlay: only files and directories copied into an empty tree."""
    tree_links, overlay_entries = case
    return not tree_links and all(kind != "symlink" for kind, _, _ in overlay_entries)


def relative_entries(root: Path) -> set[tuple[str, bool]]:
    return {(path.relative_to(root).as_posix(), path.is_dir()) for path in everything_under(root)}


def test_the_archive_generator_yields_benign_archives_and_they_are_accepted(tmp_path: Path) -> None:
    """The property test above is not vacuous: its generator gives archives with no hostile member, and
    extract_tar accepts such an archive whole."""
    members = find(
        hostile_members(),
        lambda found: benign_members(found) and {kind for kind, _, _ in found} == {"file", "dir"},
        settings=settings(database=None, max_examples=5000, derandomize=True, phases=[Phase.generate]),
    )
    extract_tar(io.BytesIO(make_tar(members)), tmp_path / "into", "benign.tar")
    assert_extracted(members, tmp_path / "into")


def test_the_tree_generator_yields_benign_overlays_and_they_are_applied(tmp_path: Path) -> None:
    """Likewise for overlays: a generated overlay of files and directories is copied whole into the rootfs."""
    _, overlay_entries = find(
        hostile_trees(),
        lambda found: benign_tree(found) and {kind for kind, _, _ in found[1]} == {"file", "dir"},
        settings=settings(database=None, max_examples=5000, derandomize=True, phases=[Phase.generate]),
    )
    overlay, tree = tmp_path / "overlay", tmp_path / "tree"
    tree.mkdir()
    build_overlay(overlay, overlay_entries)
    assert apply_overlay(overlay, tree) == len(relative_entries(overlay)) > 0
    assert relative_entries(tree) == relative_entries(overlay)


def test_an_overlay_path_too_long_for_the_file_system_is_one_backend_error(tmp_path: Path) -> None:
    """A symlink in the tree whose target has a 300-character name; the overlay writes through it."""
    tree, overlay = tmp_path / "tree", tmp_path / "overlay"
    tree.mkdir()
    (tree / "lnk").symlink_to("x" * 300)
    (overlay / "lnk").mkdir(parents=True)
    (overlay / "lnk" / "file").write_text("x")
    with pytest.raises(BackendError, match=r"lnk cannot be copied \(File name too long\); shorten or remove it"):
        apply_overlay(overlay, tree)


def test_a_sparse_file_over_the_size_limit_is_refused_before_writing(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "srv").mkdir(parents=True)
    with (tree / "srv" / "sparse").open("wb") as handle:
        handle.truncate(1 << 30)
    with pytest.raises(
        BackendError,
        match=r"over LIMIT \(1048576\); the largest file is /srv/sparse \(1073741824 bytes, sparse: 0 on disk\)",
    ):
        check_size(tree, 1 << 20, "LIMIT")
    check_size(tree, 2 << 30, "LIMIT")  # within a larger limit
