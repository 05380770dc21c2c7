"""Image tags from a git ref and commit, with docker/metadata-action's rule syntax and semantics.

Rules are metadata-action ``tags`` lines (``type=semver,pattern={{major}}.{{minor}}``), flavor lines
are its ``flavor`` lines (``latest=auto``, ``prefix=x-,onlatest=true``). The results are the ones
metadata-action gives for the same ref and commit (tests/data/tag_vectors.yaml was checked against
it), except that rootfs-ci refuses what metadata-action lets through: an unknown key, an unsupported
type or expression (metadata-action ignores them or renders them empty), a ref that is not a full
``refs/...`` name, and a result that is not a valid image tag; and it never lists a tag twice
(metadata-action can list ``latest`` twice).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import semver

from rootfs_ci import gitinfo
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
_MUSTACHE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
# Handlebars HTML-escapes what {{expr}} renders; metadata-action keeps that, then sanitises.
_HANDLEBARS_ESCAPES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "'": "&#x27;",
    "`": "&#x60;",
    "=": "&#x3D;",
}
_INVALID_TAG_CHARS = re.compile(r"[^a-zA-Z0-9._-]+")
_VALID_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_SHA = re.compile(r"[0-9a-fA-F]{7,64}")
# node-semver's strict grammar (what metadata-action validates with): an optional 'v', no leading zeros.
_NUM = r"0|[1-9]\d*"
_PRE_ID = rf"(?:{_NUM}|\d*[a-zA-Z-][a-zA-Z0-9-]*)"
_SEMVER = re.compile(
    rf"v?(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>{_PRE_ID}(?:\.{_PRE_ID})*))?(?:\+(?P<build>[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*))?"
)
_SEMVER_MAX_LENGTH = 256
_MAX_SAFE_INTEGER = 2**53 - 1


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
    for name in _MUSTACHE.findall(text):
        if name in allowed:
            continue
        head = name.split()[0] if name.split() else name
        if head in UNSUPPORTED_EXPRESSIONS:
            raise ConfigError(f"{where}: {{{{{head}}}}} is not supported by rootfs-ci; use a fixed value")
        raise ConfigError(
            f"{where}: unknown expression {{{{{name}}}}} in {what}; "
            f"use {', '.join('{{' + known + '}}' for known in allowed)}"
        )
    leftover = _MUSTACHE.sub("", text)
    if "{" in leftover or "}" in leftover:
        raise ConfigError(f"{where}: unbalanced '{{{{' or '}}}}' in {what}")


def parse_rule(line: str) -> Rule:
    """Parse one metadata-action tags line; a bad line is one ConfigError naming it and the fix."""
    text = line.strip()
    where = f"tag rule {text!r}"
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
    kind = kind or "raw"
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


@dataclass(frozen=True)
class _SemverParts:
    raw: str
    version: str
    major: int
    minor: int
    patch: int
    prerelease: bool


def _parse_semver(text: str) -> _SemverParts | None:
    """node-semver's strict parse (a leading 'v' allowed), or None when it would not validate."""
    match = _SEMVER.fullmatch(text)
    if match is None or len(text) > _SEMVER_MAX_LENGTH:
        return None
    major, minor, patch = (int(match[name]) for name in ("major", "minor", "patch"))
    if max(major, minor, patch) > _MAX_SAFE_INTEGER:
        return None
    parsed = semver.Version(major, minor, patch, prerelease=match["pre"])
    version = f"{parsed.major}.{parsed.minor}.{parsed.patch}" + (f"-{parsed.prerelease}" if parsed.prerelease else "")
    return _SemverParts(text, version, parsed.major, parsed.minor, parsed.patch, parsed.prerelease is not None)


def _render(template: str, values: Callable[[str], str]) -> str:
    def one(match: re.Match[str]) -> str:
        rendered = values(match.group(1))
        return "".join(_HANDLEBARS_ESCAPES.get(char, char) for char in rendered)

    return _MUSTACHE.sub(one, template)


def _is_raw_statement(pattern: str) -> bool:
    match = _MUSTACHE.fullmatch(pattern)
    return match is not None and match.group(1) == "raw"


def sanitize_tag(value: str) -> str:
    """metadata-action's tag sanitisation: each run of characters not allowed in a tag becomes '-'."""
    return _INVALID_TAG_CHARS.sub("-", value)


class _Computation:
    """metadata-action's Meta.getVersion and generateTags for one ref and commit."""

    def __init__(self, ref: str, sha: str, flavor: Flavor, default_branch: str, short_sha_length: int) -> None:
        self.ref, self.sha, self.flavor, self.default_branch = ref, sha, flavor, default_branch
        self.short_sha = sha[:short_sha_length]
        self.main: str | None = None
        self.partial: list[str] = []
        self.latest: bool | None = None

    def _global(self, template: str) -> str:
        branch = self.ref.removeprefix("refs/heads/")

        def value(name: str) -> str:
            if name == "branch":
                return branch if self.ref.startswith("refs/heads/") else ""
            if name == "tag":
                return self.ref.removeprefix("refs/tags/") if self.ref.startswith("refs/tags/") else ""
            if name == "sha":
                return self.short_sha
            is_default = bool(branch) and branch == self.default_branch
            return str(is_default if name == "is_default_branch" else not is_default).lower()

        return _render(template, value)

    def _with_affixes(self, value: str, rule: Rule) -> str:
        if "prefix" in rule.attrs:
            value = self._global(rule.attrs["prefix"]) + value
        elif self.flavor.prefix:
            value = self._global(self.flavor.prefix) + value
        if "suffix" in rule.attrs:
            value += self._global(rule.attrs["suffix"])
        elif self.flavor.suffix:
            value += self._global(self.flavor.suffix)
        return value

    def _add(self, value: str, latest_when_auto: bool) -> None:
        if not value:
            return
        value = sanitize_tag(value)
        if self.main is None:
            self.main = value
        elif value != self.main:
            self.partial.append(value)
        if self.latest is None:
            self.latest = latest_when_auto if self.flavor.latest == "auto" else self.flavor.latest == "true"

    def apply(self, rule: Rule) -> None:
        enabled = self._global(rule.attrs["enable"])
        if enabled not in ("true", "false"):
            raise ConfigError(f"tag rule {rule.line!r}: enable gives '{enabled}'; it must give true or false")
        if enabled == "false":
            return
        ref, attrs = self.ref, rule.attrs
        if rule.type == "semver":
            self._semver(rule)
        elif rule.type == "ref":
            event = attrs["event"]
            if event == "branch" and ref.startswith("refs/heads/"):
                self._add(self._with_affixes(ref.removeprefix("refs/heads/"), rule), False)
            elif event == "tag" and ref.startswith("refs/tags/"):
                self._add(self._with_affixes(ref.removeprefix("refs/tags/"), rule), True)
            elif event == "pr" and ref.startswith("refs/pull/"):
                number = ref.removeprefix("refs/pull/").removesuffix("/merge")
                self._add(self._with_affixes(number, rule), False)
        elif rule.type == "edge":
            branch = attrs["branch"] or self.default_branch
            if ref.startswith("refs/heads/") and ref.removeprefix("refs/heads/") == branch:
                self._add(self._with_affixes("edge", rule), False)
        elif rule.type == "raw":
            self._add(self._with_affixes(self._global(attrs["value"]), rule), False)
        elif rule.type == "sha" and self.sha:
            value = self.sha if attrs["format"] == "long" else self.short_sha
            self._add(self._with_affixes(value, rule), False)

    def _semver(self, rule: Rule) -> None:
        value, pattern, match = rule.attrs["value"], rule.attrs["pattern"], rule.attrs["match"]
        if not self.ref.startswith("refs/tags/") and not value:
            return
        raw = self._global(value) if value else self.ref.removeprefix("refs/tags/")
        if match and (found := re.search(match, raw)) is not None:
            raw = found.group(1) or ""
        parts = _parse_semver(raw.replace("/", "-"))
        if parts is None:
            return

        def field(name: str) -> str:
            return str(getattr(parts, name))

        if parts.prerelease:
            rendered = _render(pattern if _is_raw_statement(pattern) else "{{version}}", field)
        else:
            rendered = _render(pattern, field)
        self._add(self._with_affixes(rendered, rule), not parts.prerelease)

    def tags(self) -> list[str]:
        if self.main is None:
            return []
        tags = [self.main, *dict.fromkeys(self.partial)]
        if self.latest:
            prefix = self.flavor.prefix if self.flavor.prefix_latest else ""
            suffix = self.flavor.suffix if self.flavor.suffix_latest else ""
            tags.append(sanitize_tag(f"{prefix}latest{suffix}"))
        return tags


def check_ref(ref: str) -> str:
    if not ref.startswith("refs/"):
        raise ConfigError(
            f"ref {ref!r} is not a full git ref; use refs/tags/v1.2.3, refs/heads/BRANCH or refs/pull/N/merge"
        )
    return ref


def compute_tags(
    ref: str,
    sha: str,
    rules: Sequence[str],
    flavor: Sequence[str],
    default_branch: str = "main",
    short_sha_length: int = SHORT_SHA_LENGTH,
) -> list[str]:
    """The tags metadata-action gives for ``ref`` (refs/heads/..., refs/tags/..., refs/pull/N/merge) and ``sha``.

    Main tag first, then the others by rule priority, ``latest`` last; no duplicates. An empty
    ``sha`` means unknown: sha rules give nothing.
    """
    check_ref(ref)
    if sha and not _SHA.fullmatch(sha):
        raise ConfigError(f"commit {sha!r} is not a hexadecimal git commit id (7 to 64 characters)")
    computation = _Computation(ref, sha, parse_flavor(flavor), default_branch, short_sha_length)
    for rule in parse_rules(rules):
        computation.apply(rule)
    tags = computation.tags()
    for tag in tags:
        if not _VALID_TAG.fullmatch(tag):
            raise ConfigError(
                f"computed tag {tag!r} is not a valid image tag (it must start with a letter, digit or '_' "
                "and have at most 128 characters); fix the prefix, suffix or value in the tag rules"
            )
    return list(dict.fromkeys(tags))


def current_ref(project_dir: Path, environ: Mapping[str, str]) -> str:
    """GITHUB_REF in GitHub Actions, else the checked-out branch (refs/heads/...)."""
    if environ.get("GITHUB_REF"):
        return environ["GITHUB_REF"]
    try:
        result = gitinfo.git(project_dir, "symbolic-ref", "-q", "HEAD")
    except OSError:
        result = None
    if result is None or result.returncode != 0 or not result.stdout.strip():
        raise ConfigError("no branch is checked out and GITHUB_REF is not set; pass --ref, e.g. --ref refs/tags/v1.2.3")
    return result.stdout.strip()


def current_sha(project_dir: Path, environ: Mapping[str, str]) -> str:
    """GITHUB_SHA in GitHub Actions, else HEAD's commit ('' outside git: sha rules then give nothing)."""
    return environ.get("GITHUB_SHA") or gitinfo.revision(project_dir)
