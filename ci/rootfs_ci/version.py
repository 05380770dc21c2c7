"""The project's version: the newest release heading of CHANGELOG.md (Keep a Changelog)."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from pathlib import Path

import semver

from rootfs_ci.errors import ConfigError

HEADING = re.compile(r"## \[(?P<name>[^\]]*)\](?P<rest>.*)")  # fullmatch: "$" accepts a final newline
DATED = re.compile(r" - (?P<date>\d{4}-\d{2}-\d{2})(?: \[YANKED\])?\s*")
CHANGELOG = "CHANGELOG.md"  # in the project directory
UNRELEASED = "0.0.0-dev"
UNRELEASED_NAME = "Unreleased"
BUMPS = ("patch", "minor", "major", "prerelease")
FIRST_VERSION = "0.1.0"
PRERELEASE_ID = "rc"


@dataclass(frozen=True)
class Heading:
    """A ``## [...]`` line: ``version`` is None for [Unreleased]; ``index`` is its 0-based line number."""

    index: int
    version: semver.Version | None
    date: str | None


def parse_version(text: str) -> semver.Version | None:
    return semver.Version.parse(text) if semver.Version.is_valid(text) else None


def headings(text: str, name: str = CHANGELOG) -> list[Heading]:
    """Every ``## [X.Y.Z] - YYYY-MM-DD`` and ``## [Unreleased]`` heading, in file order, validated."""
    found: list[Heading] = []
    for index, line in enumerate(text.splitlines()):
        match = HEADING.fullmatch(line)
        if match is None:
            continue
        where, label, rest = f"{name}:{index + 1}", match["name"], match["rest"]
        if label.lower() == UNRELEASED_NAME.lower():
            if rest.strip():
                raise ConfigError(f"{where}: '{line}' should be just '## [{UNRELEASED_NAME}]'")
            found.append(Heading(index, None, None))
            continue
        version = parse_version(label)
        if version is None:
            raise ConfigError(f"{where}: '## [{label}]' is not a semantic version like 1.2.3; fix the heading")
        dated = DATED.fullmatch(rest)
        if dated is None or not _is_date(dated["date"]):
            raise ConfigError(f"{where}: '{line}' should read '## [{label}] - YYYY-MM-DD' (Keep a Changelog)")
        found.append(Heading(index, version, dated["date"]))
    return found


def _is_date(text: str) -> bool:
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def released(text: str, name: str = CHANGELOG) -> list[semver.Version]:
    """Released versions, newest (topmost) first."""
    return [heading.version for heading in headings(text, name) if heading.version is not None]


def project_version(changelog: Path) -> str:
    """Newest released version, or 0.0.0-dev when only [Unreleased] exists (or no changelog)."""
    try:
        text = changelog.read_text(encoding="utf-8")
    except FileNotFoundError:
        return UNRELEASED
    versions = released(text, changelog.name)
    return str(versions[0]) if versions else UNRELEASED


def next_version(current: semver.Version | None, bump: str) -> semver.Version:
    """The version after ``current``: 0.1.0 (0.1.0-rc.1 for prerelease) when there is none yet.

    prerelease: 1.2.3 -> 1.2.4-rc.1, 1.2.4-rc.1 -> 1.2.4-rc.2; patch/minor/major of a pre-release
    release it where they can (1.3.0-rc.2 -> 1.3.0 for patch and minor), as node-semver's inc does.
    """
    if bump not in BUMPS:
        raise ConfigError(f"unknown bump {bump!r}; use one of {', '.join(BUMPS)}")
    if current is None:
        first = semver.Version.parse(FIRST_VERSION)
        return first.replace(prerelease=f"{PRERELEASE_ID}.1") if bump == "prerelease" else first
    return current.next_version(bump, prerelease_token=PRERELEASE_ID)
