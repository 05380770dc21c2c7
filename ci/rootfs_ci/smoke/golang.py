"""Go's semantics where container-structure-test's fields depend on them, so that a CST spec means here
exactly what it means to CST (a Go program):

- regexes are Go's ``regexp`` (RE2 syntax): searched over the whole text, ``^``/``$`` are the start and
  the very end of the text unless the pattern says ``(?m)`` (``$`` does not match before a trailing
  newline, unlike Python's), no look-around or back-references, ``\\d``/``\\w``/``\\s`` are ASCII;
- ``$VAR`` and ``${VAR}`` in commands and paths are expanded like Go's ``os.Expand``;
- permissions are Go's ``fs.FileMode.String()`` (``Lrwxrwxrwx`` for a symlink, ``urwxr-xr-x`` for setuid,
  ``dtrwxrwxrwx`` for a sticky directory).
"""

from __future__ import annotations

import functools
import stat
from collections.abc import Callable, Mapping

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a bad pattern is reported once, by regex_error, not logged by the library


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re2._Regexp[str]:
    return re2.compile(pattern, options=_OPTIONS)


def regex_error(pattern: str) -> str | None:
    """Why Go's regexp would refuse ``pattern``, or None if it compiles."""
    try:
        _compiled(pattern)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        return reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
    return None


def search(pattern: str, text: str) -> bool:
    """Go's ``regexp.MustCompile(pattern).MatchString(text)``."""
    return _compiled(pattern).search(text) is not None


# ---- os.Expand ---------------------------------------------------------------------------------

_SPECIAL = frozenset("*#$@!?-0123456789")


def _shell_name(rest: str) -> tuple[str, int]:
    """Go's os.getShellName: the variable name after a '$' and how many characters it took."""
    if rest[0] == "{":
        if len(rest) > 2 and rest[1] in _SPECIAL and rest[2] == "}":
            return rest[1], 3
        closing = rest.find("}", 1)
        if closing == 1:
            return "", 2  # "${}": bad syntax, eaten
        if closing < 0:
            return "", 1  # "${" without "}": bad syntax, eaten
        return rest[1:closing], closing + 1
    if rest[0] in _SPECIAL:
        return rest[0], 1
    length = 0
    while length < len(rest) and (rest[length] == "_" or (rest[length].isascii() and rest[length].isalnum())):
        length += 1
    return rest[:length], length


def expand(text: str, lookup: Callable[[str], str]) -> str:
    """Go's ``os.Expand``: ``$NAME``/``${NAME}`` replaced by ``lookup(NAME)``; a lone '$' stays."""
    out: list[str] = []
    start = index = 0
    while index < len(text):
        if text[index] == "$" and index + 1 < len(text):
            out.append(text[start:index])
            name, width = _shell_name(text[index + 1 :])
            if name:
                out.append(lookup(name))
            elif width == 0:
                out.append("$")
            index += width
            start = index + 1
        index += 1
    return "".join(out) + text[start:]


def expand_env(text: str, env: Mapping[str, str]) -> str:
    """Expansion against an image's environment (unset variables become empty), as CST does it."""
    return expand(text, lambda name: env.get(name, ""))


def env_map(entries: list[str] | None) -> dict[str, str]:
    """An image config's ``Env`` list as CST reads it: split at the first '='."""
    result = {}
    for entry in entries or []:
        key, _, value = entry.partition("=")
        result[key] = value
    return result


# ---- fs.FileMode.String() -----------------------------------------------------------------------


def file_mode(mode: int, kind: str) -> str:
    """Go's FileMode string of a tar entry's ``mode`` (permission and set-id bits) and ``kind``
    ('dir', 'symlink' or 'file'), as archive/tar's FileInfo gives it."""
    letters = {"dir": "d", "symlink": "L"}.get(kind, "")
    letters += "u" if mode & stat.S_ISUID else ""
    letters += "g" if mode & stat.S_ISGID else ""
    letters += "t" if mode & stat.S_ISVTX else ""
    permissions = "".join(char if mode & (1 << (8 - position)) else "-" for position, char in enumerate("rwxrwxrwx"))
    return (letters or "-") + permissions
