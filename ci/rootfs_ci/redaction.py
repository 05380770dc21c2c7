"""Credentials never shown: user info in anything URL-like is masked in messages, records and logs."""

from __future__ import annotations

import re

_SCHEME_USERINFO = re.compile(r"(?<=://)[^\s/@'\"]+@")
_USERINFO = re.compile(r"[^\s/@'\"]+:[^\s/@'\"]+@(?!sha256:)")
REDACTED = "***"


def redact(text: str) -> str:
    """``text`` with the user info of anything URL-like (``user:secret@``, ``https://token@``) masked."""
    return _USERINFO.sub(REDACTED + "@", _SCHEME_USERINFO.sub(REDACTED + "@", text))
