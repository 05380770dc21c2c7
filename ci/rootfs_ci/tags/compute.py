"""metadata-action's tag computation (Meta.getVersion and generateTags) for one ref and commit."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import semver

from rootfs_ci.errors import ConfigError
from rootfs_ci.tags.rules import MUSTACHE, SHORT_SHA_LENGTH, Flavor, Rule, parse_flavor, parse_rules

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

    return MUSTACHE.sub(one, template)


def _is_raw_statement(pattern: str) -> bool:
    match = MUSTACHE.fullmatch(pattern)
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
