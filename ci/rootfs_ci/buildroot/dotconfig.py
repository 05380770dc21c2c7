"""Defconfig and .config text: which lines kconfig kept, and the values a .config holds.

kconfig drops unknown symbols and symbols whose dependencies are not met without a word, so a
defconfig can silently stop meaning what it says. Buildroot's CI guards against that with
support/scripts/check-dotconfig.py; ``dropped_lines`` applies the same rule: every ``BR2_...``
line and every ``# BR2_... is not set`` line of the defconfig must appear, as is, in the .config.
"""

from __future__ import annotations

import re

ASSIGNMENT = re.compile(r"^(BR2_[A-Za-z0-9_]+)=(.*)$")
NOT_SET = re.compile(r"^# (BR2_[A-Za-z0-9_]+) is not set$")


def significant_lines(defconfig: str) -> list[str]:
    """The lines of a defconfig that set (or unset) a symbol, stripped."""
    lines = []
    for raw in defconfig.splitlines():
        line = raw.strip()
        if line.startswith("BR2_") or (line.startswith("# BR2_") and line.endswith(" is not set")):
            lines.append(line)
    return lines


def dropped_lines(defconfig: str, dotconfig: str) -> list[str]:
    """Defconfig lines that did not survive into the .config, in defconfig order."""
    kept = {line.strip() for line in dotconfig.splitlines()}
    return [line for line in significant_lines(defconfig) if line not in kept]


def unquote(value: str) -> str:
    """A kconfig string value without its quotes and backslash escapes."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def values(dotconfig: str) -> dict[str, str]:
    """Symbol -> value ('y', 'n' for '# ... is not set', unquoted strings) of a .config or defconfig."""
    found: dict[str, str] = {}
    for raw in dotconfig.splitlines():
        line = raw.strip()
        if match := ASSIGNMENT.match(line):
            found[match[1]] = unquote(match[2])
        elif match := NOT_SET.match(line):
            found[match[1]] = "n"
    return found
