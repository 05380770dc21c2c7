"""The project version from CHANGELOG.md headings, and the next version for each bump."""

from __future__ import annotations

from pathlib import Path

import pytest
import semver

from rootfs_ci.errors import ConfigError
from rootfs_ci.version import UNRELEASED, headings, next_version, project_version, released

REPO = Path(__file__).resolve().parents[2]

CHANGELOG = """\
# Changelog

## [Unreleased]

### Added
- more

## [1.3.0-rc.1] - 2026-03-01

## [1.2.0] - 2026-02-01 [YANKED]

## [1.1.0] - 2026-01-01
- first

[Unreleased]: https://example.invalid/compare/v1.3.0-rc.1...HEAD
"""


def test_project_version_is_the_topmost_release(tmp_path: Path) -> None:
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text(CHANGELOG)
    assert project_version(changelog) == "1.3.0-rc.1"
    assert released(CHANGELOG) == [semver.Version.parse(v) for v in ("1.3.0-rc.1", "1.2.0", "1.1.0")]
    assert [(h.index, h.date) for h in headings(CHANGELOG)] == [
        (2, None),
        (7, "2026-03-01"),
        (9, "2026-02-01"),
        (11, "2026-01-01"),
    ]


def test_project_version_without_releases(tmp_path: Path) -> None:
    assert project_version(tmp_path / "missing.md") == UNRELEASED
    (tmp_path / "CHANGELOG.md").write_text("# Changelog\n\n## [Unreleased]\n- x\n")
    assert project_version(tmp_path / "CHANGELOG.md") == UNRELEASED


def test_this_repository_changelog_parses() -> None:
    version = project_version(REPO / "CHANGELOG.md")
    assert version == UNRELEASED or semver.Version.is_valid(version)


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("## [1.2]", "CHANGELOG.md:3: '## [1.2]' is not a semantic version like 1.2.3; fix the heading"),
        ("## [v1.2.3] - 2026-01-01", "'## [v1.2.3]' is not a semantic version"),
        ("## [01.2.3] - 2026-01-01", "'## [01.2.3]' is not a semantic version"),
        ("## [1.2.3]", "CHANGELOG.md:3: '## [1.2.3]' should read '## [1.2.3] - YYYY-MM-DD'"),
        ("## [1.2.3] - 2026-13-01", "should read '## [1.2.3] - YYYY-MM-DD'"),
        ("## [1.2.3] 2026-01-01", "should read '## [1.2.3] - YYYY-MM-DD'"),
        ("## [Unreleased] - 2026-01-01", "should be just '## [Unreleased]'"),
    ],
)
def test_bad_heading_is_one_clear_line(tmp_path: Path, heading: str, expected: str) -> None:
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text(f"# Changelog\n\n{heading}\n- x\n")
    with pytest.raises(ConfigError) as error:
        project_version(changelog)
    assert expected in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("current", "bump", "expected"),
    [
        (None, "patch", "0.1.0"),
        (None, "minor", "0.1.0"),
        (None, "major", "0.1.0"),
        (None, "prerelease", "0.1.0-rc.1"),
        ("1.2.3", "patch", "1.2.4"),
        ("1.2.3", "minor", "1.3.0"),
        ("1.2.3", "major", "2.0.0"),
        ("1.2.3", "prerelease", "1.2.4-rc.1"),
        ("1.3.0-rc.1", "prerelease", "1.3.0-rc.2"),
        ("1.3.0-rc.2", "patch", "1.3.0"),
        ("1.3.0-rc.2", "minor", "1.3.0"),
        ("1.3.0-rc.2", "major", "2.0.0"),
        ("0.1.0-rc.1", "prerelease", "0.1.0-rc.2"),
        ("2.0.0-rc.1", "major", "2.0.0"),
    ],
)
def test_next_version(current: str | None, bump: str, expected: str) -> None:
    parsed = semver.Version.parse(current) if current else None
    assert str(next_version(parsed, bump)) == expected


def test_unknown_bump() -> None:
    with pytest.raises(ConfigError, match="unknown bump 'build'; use one of patch, minor, major, prerelease"):
        next_version(None, "build")
