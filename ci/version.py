"""The project's version: the newest release heading of CHANGELOG.md (Keep a Changelog)."""

from __future__ import annotations

import re
from pathlib import Path

import semver

from ci.errors import ConfigError

RELEASE_HEADING = re.compile(r"^## \[(?P<version>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?\s*$", re.MULTILINE)
UNRELEASED = "0.0.0-dev"


def project_version(changelog: Path) -> str:
    """Newest released version, or 0.0.0-dev when only [Unreleased] exists (or no changelog)."""
    try:
        text = changelog.read_text(encoding="utf-8")
    except FileNotFoundError:
        return UNRELEASED
    for match in RELEASE_HEADING.finditer(text):
        version = match.group("version")
        if version.lower() == "unreleased":
            continue
        if not semver.Version.is_valid(version):
            raise ConfigError(
                f"{changelog.name}: '## [{version}]' is not a semantic version like 1.2.3; fix the heading"
            )
        return version
    return UNRELEASED
