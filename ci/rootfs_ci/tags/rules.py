"""metadata-action ``tags`` and ``flavor`` lines parsed into rules and a flavor; a bad line is one ConfigError."""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rootfs_ci.errors import ConfigError

TYPES = ("semver", "ref", "sha", "raw", "edge")
UNSUPPORTED_TYPES = ("schedule", "pep440", "match")
DEFAULT_PRIORITY = {"semver": 900, "edge": 700, "ref": 600, "raw": 200, "sha": 100}
COMMON_KEYS = ("type", "enable", "priority", "prefix", "suffix")
TYPE_KEYS = {
    "semver": ("pattern", "value", "match"),
    "ref": ("event",),
    "sha": ("format",),
    "raw": ("value",),
    "edge": ("branch",),
}
REF_EVENTS = ("branch", "tag", "pr")
SHA_FORMATS = ("short", "long")
# metadata-action's defaults for an empty tags input, less type=schedule (it only fires on schedule events).
EMPTY_RULES = ("type=ref,event=branch", "type=ref,event=tag", "type=ref,event=pr")
SHORT_SHA_LENGTH = 7

PATTERN_EXPRESSIONS = ("version", "major", "minor", "patch", "raw")
GLOBAL_EXPRESSIONS = ("branch", "tag", "sha", "is_default_branch", "is_not_default_branch")
UNSUPPORTED_EXPRESSIONS = ("base_ref", "date", "commit_date")
MUSTACHE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


@dataclass(frozen=True)
class Rule:
    """One parsed tag rule; ``attrs`` holds every key, defaults filled in as metadata-action does."""

    line: str
    type: str
    attrs: Mapping[str, str]
    priority: int


@dataclass(frozen=True)
class Flavor:
    latest: str = "auto"
    prefix: str = ""
    prefix_latest: bool = False
    suffix: str = ""
    suffix_latest: bool = False


def _fields(line: str, where: str) -> list[str]:
    try:
        return next(csv.reader([line], strict=True), [])
    except csv.Error as exc:
        raise ConfigError(f"{where}: not a comma-separated line ({exc})") from None


def _check_expressions(text: str, allowed: Sequence[str], what: str, where: str) -> None:
    """Only the Handlebars expressions rootfs-ci renders; anything else is refused, not rendered empty."""
    for name in MUSTACHE.findall(text):
        if name in allowed:
            continue
        head = name.split()[0] if name.split() else name
        if head in UNSUPPORTED_EXPRESSIONS:
            raise ConfigError(f"{where}: {{{{{head}}}}} is not supported by rootfs-ci; use a fixed value")
        raise ConfigError(
            f"{where}: unknown expression {{{{{name}}}}} in {what}; "
            f"use {', '.join('{{' + known + '}}' for known in allowed)}"
        )
    leftover = MUSTACHE.sub("", text)
    if "{" in leftover or "}" in leftover:
        raise ConfigError(f"{where}: unbalanced '{{{{' or '}}}}' in {what}")


def _read_fields(text: str, where: str) -> tuple[str, dict[str, str]]:
    """The rule's type (raw when none is given) and its other keys; a bare field is the value."""
    attrs: dict[str, str] = {}
    kind: str | None = None
    for field in _fields(text, where):
        key, sep, value = field.partition("=")
        if not sep:
            attrs["value"] = key.strip()
            continue
        key, value = key.strip().lower(), value.strip()
        if key == "type":
            if value in UNSUPPORTED_TYPES:
                raise ConfigError(
                    f"{where}: type '{value}' is not supported by rootfs-ci; use one of {', '.join(TYPES)}"
                )
            if value not in TYPES:
                raise ConfigError(f"{where}: unknown type '{value}'; use one of {', '.join(TYPES)}")
            kind = value
        else:
            attrs[key] = value
    return kind or "raw", attrs


def parse_rule(line: str) -> Rule:
    """Parse one metadata-action tags line; a bad line is one ConfigError naming it and the fix."""
    text = line.strip()
    where = f"tag rule {text!r}"
    kind, attrs = _read_fields(text, where)
    known = (*COMMON_KEYS, *TYPE_KEYS[kind])
    for key in attrs:
        if key not in known:
            raise ConfigError(f"{where}: unknown key '{key}' for type={kind}; use {', '.join(known)}")
    if kind == "semver":
        if "pattern" not in attrs:
            raise ConfigError(f"{where}: type=semver needs pattern=, e.g. pattern={{{{version}}}}")
        _check_expressions(attrs["pattern"], PATTERN_EXPRESSIONS, "pattern", where)
        attrs.setdefault("value", "")
        attrs.setdefault("match", "")
        if attrs["match"]:
            try:
                groups = re.compile(attrs["match"]).groups
            except re.error as exc:
                raise ConfigError(f"{where}: match is not a regular expression ({exc})") from None
            if groups < 1:
                raise ConfigError(f"{where}: match needs a (group) around the version, e.g. v(\\d.*)$")
    elif kind == "ref":
        if attrs.get("event") not in REF_EVENTS:
            raise ConfigError(f"{where}: type=ref needs event={' or event='.join(REF_EVENTS)}")
        if attrs["event"] == "pr":
            attrs.setdefault("prefix", "pr-")
    elif kind == "raw":
        if "value" not in attrs:
            raise ConfigError(f"{where}: type=raw needs value=, e.g. type=raw,value=v01")
    elif kind == "sha":
        attrs.setdefault("prefix", "sha-")
        attrs.setdefault("format", "short")
        if attrs["format"] not in SHA_FORMATS:
            raise ConfigError(f"{where}: format must be short or long, not '{attrs['format']}'")
    elif kind == "edge":
        attrs.setdefault("branch", "")
    attrs.setdefault("enable", "true")
    for key in ("value", "prefix", "suffix", "enable"):
        if key in attrs:
            _check_expressions(attrs[key], GLOBAL_EXPRESSIONS, key, where)
    priority = attrs.setdefault("priority", str(DEFAULT_PRIORITY[kind]))
    if not re.fullmatch(r"-?\d+", priority):
        raise ConfigError(f"{where}: priority must be a whole number, not '{priority}'")
    return Rule(line=text, type=kind, attrs=attrs, priority=int(priority))


def _lines(lines: Sequence[str]) -> list[str]:
    """Blank lines and '#' comment lines are skipped, as metadata-action does."""
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def parse_rules(lines: Sequence[str]) -> list[Rule]:
    """Parsed rules, highest priority first (ties keep their order); no rules means metadata-action's."""
    rules = [parse_rule(line) for line in (_lines(lines) or EMPTY_RULES)]
    return sorted(rules, key=lambda rule: -rule.priority)


def parse_flavor(lines: Sequence[str]) -> Flavor:
    """Parse metadata-action flavor lines; later lines win."""
    latest, prefix, suffix = "auto", "", ""
    prefix_latest = suffix_latest = False
    for line in _lines(lines):
        onlatest_for = ""
        for field in _fields(line, f"flavor {line!r}"):
            parts = [part.strip() for part in field.split("=")]
            if len(parts) == 1:
                raise ConfigError(f"flavor {line!r}: '{field}' needs a value, e.g. latest=auto")
            key, value = parts[0].lower(), parts[1]
            if key == "latest":
                if value not in ("auto", "true", "false"):
                    raise ConfigError(f"flavor {line!r}: latest must be auto, true or false, not '{value}'")
                latest = value
            elif key in ("prefix", "suffix"):
                _check_expressions(value, GLOBAL_EXPRESSIONS, key, f"flavor {line!r}")
                if key == "prefix":
                    prefix = value
                else:
                    suffix = value
                onlatest_for = key
            elif key == "onlatest":
                if value not in ("true", "false"):
                    raise ConfigError(f"flavor {line!r}: onlatest must be true or false, not '{value}'")
                if onlatest_for == "prefix":
                    prefix_latest = value == "true"
                elif onlatest_for == "suffix":
                    suffix_latest = value == "true"
            else:
                raise ConfigError(f"flavor {line!r}: unknown key '{key}'; use latest, prefix, suffix, onlatest")
    return Flavor(latest, prefix, prefix_latest, suffix, suffix_latest)
