"""The name grammar of configuration values: image names, Debian package names, sonames, paths.

Patterns are always used with ``fullmatch``: ``$`` would accept a final newline.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

IMAGE_NAME = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")
DEBIAN_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+")  # Debian policy 5.6.1
SONAME = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9_+.-]*")
APPLET = re.compile(r"[A-Za-z0-9_\[][A-Za-z0-9_.\[\]-]*")
ROOTFS_PATH = re.compile(r"/[^\x00-\x1f\x7f]*")
GIT_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")
NOT_AN_OPTION = re.compile(r"[^-\s][^\s\x00-\x1f\x7f]*")  # no leading "-", no spaces or controls
ARCHIVE_NAME = re.compile(r"[a-z0-9][a-z0-9._/-]*")  # Debian suite or component: bookworm, non-free-firmware
MIRROR_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f]+")
SNAPSHOT_TIME = re.compile(r"[0-9]{8}T[0-9]{6}Z")  # a snapshot archive's timestamp: 20250520T000000Z


def each_matches(values: Iterable[str], pattern: re.Pattern[str], what: str, example: str) -> None:
    for value in values:
        if not pattern.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid {what} (e.g. {example})")
