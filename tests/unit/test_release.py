"""`invoke release` in throwaway git repositories: the changelog, the commit, the tag, and every refusal."""

from __future__ import annotations

import datetime
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from rootfs_ci.errors import ConfigError
from rootfs_ci.release import ReleaseError, apply_release, describe, plan_release, render_changelog
from tests.helpers import Project

TODAY = datetime.date(2026, 7, 1)
URL = "https://github.com/example/rootfs"

FIRST = """\
# Changelog

All notable changes to this project are documented in this file.

## [Unreleased]

### Added
- the first feature
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


def init_repo(repo: Path) -> None:
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Release Test")
    git(repo, "config", "user.email", "release@example.invalid")
    git(repo, "config", "commit.gpgsign", "false")
    git(repo, "config", "tag.gpgsign", "false")


def commit_all(repo: Path, message: str = "change") -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def add_notes(repo: Path, notes: str) -> None:
    changelog = repo / "CHANGELOG.md"
    changelog.write_text(changelog.read_text().replace("## [Unreleased]\n", f"## [Unreleased]\n\n{notes}\n", 1))
    commit_all(repo, "notes")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    init_repo(path)
    (path / "CHANGELOG.md").write_text(FIRST)
    (path / "README.md").write_text("hello\n")
    commit_all(path, "start")
    return path


def snapshot(repo: Path) -> tuple[str, ...]:
    """Everything a refused release must leave as it was."""
    return (
        git(repo, "rev-parse", "HEAD"),
        git(repo, "tag", "--list"),
        git(repo, "status", "--porcelain", "--untracked-files=all"),
        (repo / "CHANGELOG.md").read_text() if (repo / "CHANGELOG.md").exists() else "",
        " ".join(sorted(p.name for p in repo.iterdir())),
    )


def release(repo: Path, bump: str) -> str:
    return apply_release(plan_release(repo, bump, TODAY))


def test_first_release_without_url(repo: Path) -> None:
    commit = release(repo, "minor")
    text = (repo / "CHANGELOG.md").read_text()
    assert text == FIRST.replace("## [Unreleased]\n", "## [Unreleased]\n\n## [0.1.0] - 2026-07-01\n")
    assert "]: " not in text  # no URL anywhere: no links
    assert git(repo, "cat-file", "-t", "v0.1.0") == "tag"  # annotated
    assert git(repo, "rev-parse", "v0.1.0^{commit}") == commit == git(repo, "rev-parse", "HEAD")
    assert git(repo, "log", "-1", "--format=%s") == "Release v0.1.0"
    assert git(repo, "tag", "-l", "--format=%(contents:subject)", "v0.1.0") == "Release v0.1.0"
    assert git(repo, "show", "--name-only", "--format=", "HEAD") == "CHANGELOG.md"
    assert git(repo, "status", "--porcelain") == ""


def test_releases_with_compare_links_from_origin(repo: Path) -> None:
    git(repo, "remote", "add", "origin", f"git@github.com:{URL.removeprefix('https://github.com/')}.git")
    release(repo, "patch")  # the first release is 0.1.0 whatever the bump
    text = (repo / "CHANGELOG.md").read_text()
    assert text.endswith(f"\n\n[Unreleased]: {URL}/compare/v0.1.0...HEAD\n[0.1.0]: {URL}/releases/tag/v0.1.0\n")

    add_notes(repo, "### Fixed\n- a bug")
    release(repo, "patch")
    text = (repo / "CHANGELOG.md").read_text()
    assert "## [Unreleased]\n\n## [0.1.1] - 2026-07-01\n\n### Fixed\n- a bug\n\n## [0.1.0] - 2026-07-01\n" in text
    assert text.endswith(
        f"\n\n[Unreleased]: {URL}/compare/v0.1.1...HEAD\n"
        f"[0.1.1]: {URL}/compare/v0.1.0...v0.1.1\n"
        f"[0.1.0]: {URL}/releases/tag/v0.1.0\n"
    )
    assert git(repo, "tag", "--list").split() == ["v0.1.0", "v0.1.1"]


def test_existing_links_give_the_url(repo: Path) -> None:
    other = "https://git.example.invalid/team/app"
    (repo / "CHANGELOG.md").write_text(
        FIRST.replace("# Changelog\n", "# Changelog\n\nSee [Keep a Changelog][kac].\n")
        + f"\n[unreleased]: {other}/compare/HEAD\n[kac]: https://keepachangelog.com/\n"
    )
    commit_all(repo)
    git(repo, "remote", "add", "origin", f"{URL}.git")  # the changelog's own links win
    release(repo, "major")
    assert (
        (repo / "CHANGELOG.md")
        .read_text()
        .endswith(
            f"- the first feature\n\n[Unreleased]: {other}/compare/v0.1.0...HEAD\n"
            f"[0.1.0]: {other}/releases/tag/v0.1.0\n[kac]: https://keepachangelog.com/\n"
        )
    )


def test_prerelease_cycle(repo: Path) -> None:
    release(repo, "prerelease")
    add_notes(repo, "- rc fix")
    release(repo, "prerelease")
    add_notes(repo, "- final touch")
    release(repo, "minor")
    add_notes(repo, "- next")
    release(repo, "prerelease")
    assert set(git(repo, "tag", "--list").split()) == {"v0.1.0-rc.1", "v0.1.0-rc.2", "v0.1.0", "v0.1.1-rc.1"}
    headings = [line for line in (repo / "CHANGELOG.md").read_text().splitlines() if line.startswith("## ")]
    assert headings == [
        "## [Unreleased]",
        "## [0.1.1-rc.1] - 2026-07-01",
        "## [0.1.0] - 2026-07-01",
        "## [0.1.0-rc.2] - 2026-07-01",
        "## [0.1.0-rc.1] - 2026-07-01",
    ]


def test_dry_run_describes_and_changes_nothing(repo: Path) -> None:
    before = snapshot(repo)
    lines = describe(plan_release(repo, "minor", TODAY))
    assert lines[:3] == [
        "would release v0.1.0 (first release) dated 2026-07-01",
        "would commit CHANGELOG.md as 'Release v0.1.0' and create the annotated tag v0.1.0",
        "new section in CHANGELOG.md:",
    ]
    assert lines[3:] == ["  ## [0.1.0] - 2026-07-01", "", "  ### Added", "  - the first feature"]
    assert snapshot(repo) == before


COMPLEX = """\
# Changelog

Intro text with a [link][kac].

## [Unreleased]
### Changed
- the thing

- another thing


## [1.0.0] - 2026-02-01 [YANKED]

### Fixed
- older fix

## [0.9.0] - 2026-01-01
- first

[unreleased]: https://example.invalid/r/compare/v1.0.0...HEAD
[1.0.0]: https://example.invalid/r/compare/v0.9.0...v1.0.0
[0.9.0]: https://example.invalid/r/releases/tag/v0.9.0
[kac]: https://keepachangelog.com/
"""


def test_render_changelog_moves_only_the_notes_and_the_links() -> None:
    text, section = render_changelog(COMPLEX, "1.1.0", "2026-07-01", fallback_url="https://ignored.invalid")
    assert section == ("## [1.1.0] - 2026-07-01", "", "### Changed", "- the thing", "", "- another thing")
    assert text == COMPLEX.replace(
        "## [Unreleased]\n### Changed\n- the thing\n\n- another thing\n\n\n",
        "## [Unreleased]\n\n## [1.1.0] - 2026-07-01\n\n### Changed\n- the thing\n\n- another thing\n\n",
    ).replace(
        "[unreleased]: https://example.invalid/r/compare/v1.0.0...HEAD\n",
        "[Unreleased]: https://example.invalid/r/compare/v1.1.0...HEAD\n"
        "[1.1.0]: https://example.invalid/r/compare/v1.0.0...v1.1.0\n",
    )


def test_crlf_changelog_keeps_its_line_endings(repo: Path) -> None:
    (repo / "CHANGELOG.md").write_bytes(FIRST.replace("\n", "\r\n").encode())
    commit_all(repo)
    release(repo, "patch")
    data = (repo / "CHANGELOG.md").read_bytes()
    assert b"## [Unreleased]\r\n\r\n## [0.1.0] - 2026-07-01\r\n\r\n### Added\r\n" in data
    assert b"\n" not in data.replace(b"\r\n", b"")


def break_with(edit: str) -> Callable[[Path], None]:
    """A repository change that makes the release refuse."""

    def apply(repo: Path) -> None:
        changelog = repo / "CHANGELOG.md"
        if edit == "dirty":
            (repo / "README.md").write_text("changed\n")
        elif edit == "staged":
            (repo / "README.md").write_text("changed\n")
            git(repo, "add", "README.md")
        elif edit == "empty notes":
            changelog.write_text(FIRST.replace("- the first feature\n", "\n### Fixed\n\n"))
            commit_all(repo)
        elif edit == "no unreleased":
            changelog.write_text("# Changelog\n\n## [0.1.0] - 2026-01-01\n- x\n")
            commit_all(repo)
            git(repo, "tag", "-a", "v0.1.0", "-m", "v0.1.0")
        elif edit == "bad semver":
            changelog.write_text(FIRST + "\n## [0.1] - 2026-01-01\n- x\n")
            commit_all(repo)
        elif edit == "newer tag":
            changelog.write_text(FIRST + "\n## [0.1.0] - 2026-01-01\n- x\n")
            commit_all(repo)
            git(repo, "tag", "-a", "v0.1.0", "-m", "v0.1.0")
            git(repo, "tag", "-a", "v0.2.0", "-m", "v0.2.0")
        elif edit == "older tag":
            changelog.write_text(FIRST + "\n## [0.2.0] - 2026-02-01\n- y\n\n## [0.1.0] - 2026-01-01\n- x\n")
            commit_all(repo)
            git(repo, "tag", "-a", "v0.1.0", "-m", "v0.1.0")
        elif edit == "untagged release":
            changelog.write_text(FIRST + "\n## [0.1.0] - 2026-01-01\n- x\n")
            commit_all(repo)
        elif edit == "tag exists":
            changelog.write_text(FIRST + "\n## [0.1.0] - 2026-01-01\n- x\n")
            commit_all(repo)
            git(repo, "tag", "-a", "v0.1.0", "-m", "v0.1.0")
            git(repo, "tag", "v0.1.1")
        elif edit == "tag without release":
            git(repo, "tag", "v0.3.0")
        elif edit == "order":
            changelog.write_text(FIRST + "\n## [0.1.0] - 2026-01-01\n\n## [0.2.0] - 2026-02-01\n")
            commit_all(repo)
        elif edit == "untracked changelog":
            git(repo, "rm", "-q", "--cached", "CHANGELOG.md")
            git(repo, "commit", "-q", "-m", "untrack")
        elif edit == "no changelog":
            git(repo, "rm", "-q", "CHANGELOG.md")
            git(repo, "commit", "-q", "-m", "remove")

    return apply


REFUSALS = {
    "dirty": "the work tree has uncommitted changes (README.md); commit or stash them first",
    "staged": "the work tree has uncommitted changes (README.md)",
    "empty notes": "CHANGELOG.md: the [Unreleased] section has no notes; describe the changes under it first",
    "no unreleased": "CHANGELOG.md has no '## [Unreleased]' section",
    "bad semver": "CHANGELOG.md:10: '## [0.1]' is not a semantic version like 1.2.3; fix the heading",
    "newer tag": "git tag v0.2.0 exists but CHANGELOG.md's newest release is 0.1.0; add the [0.2.0] section",
    "untagged release": "CHANGELOG.md's newest release 0.1.0 has no tag v0.1.0; fetch tags (git fetch --tags)",
    "older tag": "CHANGELOG.md's newest release 0.2.0 has no tag v0.2.0 (the newest is v0.1.0); fetch tags",
    "tag exists": "tag v0.1.1 already exists",
    "tag without release": "git tag v0.3.0 exists but CHANGELOG.md has no release yet",
    "order": "CHANGELOG.md: [0.1.0] is listed above [0.2.0]; list releases newest first",
    "untracked changelog": "CHANGELOG.md is not tracked by git; git add and commit it first",
    "no changelog": "CHANGELOG.md not found in",
}


@pytest.mark.parametrize("case", REFUSALS, ids=list(REFUSALS))
def test_refusals_change_nothing(repo: Path, case: str) -> None:
    break_with(case)(repo)
    before = snapshot(repo)
    with pytest.raises(ConfigError) as error:  # ReleaseError, or ConfigError for a bad heading
        plan_release(repo, "patch", TODAY)
    assert REFUSALS[case] in str(error.value)
    assert "\n" not in str(error.value)
    assert error.value.exit_code == 2
    assert snapshot(repo) == before


def test_not_a_repository(tmp_path: Path) -> None:
    (tmp_path / "CHANGELOG.md").write_text(FIRST)
    with pytest.raises(ReleaseError, match="is not in a git repository; git init and commit the project first"):
        plan_release(tmp_path, "patch", TODAY)


def test_git_refusing_the_commit_rolls_back(repo: Path) -> None:
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'policy: no commits today' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = snapshot(repo)
    plan = plan_release(repo, "minor", TODAY)
    with pytest.raises(ReleaseError, match="git commit failed: policy: no commits today"):
        apply_release(plan)
    assert snapshot(repo) == before


def test_git_refusing_the_tag_rolls_back(repo: Path) -> None:
    before = snapshot(repo)
    plan = plan_release(repo, "minor", TODAY)
    git(repo, "tag", "v0.1.0")  # appears between the plan and the release
    with pytest.raises(ReleaseError, match=r"git tag failed: .*already exists"):
        apply_release(plan)
    git(repo, "tag", "-d", "v0.1.0")
    assert snapshot(repo) == before


@pytest.fixture
def git_project(project: Project) -> Project:
    init_repo(project.path)
    commit_all(project.path, "import")
    return project


def test_invoke_release_end_to_end(git_project: Project) -> None:
    path = git_project.path
    head = git(path, "rev-parse", "HEAD")
    result = git_project.invoke("release", "--bump", "minor", "--dry-run")
    assert result.returncode == 0, result.stderr
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    assert result.stdout.splitlines()[0] == f"would release v0.1.0 (first release) dated {today}"
    assert f"  ## [0.1.0] - {today}" in result.stdout.splitlines()
    assert git(path, "rev-parse", "HEAD") == head
    assert git(path, "tag", "--list") == ""

    result = git_project.invoke("release", "--bump", "minor")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("released v0.1.0: commit ")
    assert git(path, "cat-file", "-t", "v0.1.0") == "tag"
    assert git(path, "status", "--porcelain") == ""
    assert f"## [Unreleased]\n\n## [0.1.0] - {today}\n" in (path / "CHANGELOG.md").read_text()

    before = snapshot(path)
    result = git_project.invoke("release", "--bump", "patch")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "rootfs-ci: error: CHANGELOG.md: the [Unreleased] section has no notes; describe the changes under it first"
    )
    assert snapshot(path) == before


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "rootfs-ci: error: --bump is required: one of patch, minor, major, prerelease"),
        (("--bump", "huge"), "rootfs-ci: error: unknown bump 'huge'; use one of patch, minor, major, prerelease"),
    ],
)
def test_invoke_release_usage(git_project: Project, args: tuple[str, ...], expected: str) -> None:
    before = snapshot(git_project.path)
    result = git_project.invoke("release", *args)
    assert (result.returncode, result.stdout, result.stderr.strip()) == (2, "", expected)
    assert snapshot(git_project.path) == before
