"""``invoke release``: CHANGELOG.md's [Unreleased] notes become a dated version, committed and tagged.

plan_release() checks everything and changes nothing; apply_release() writes the changelog, commits
it and creates the annotated tag, and puts everything back if git refuses half-way.
"""

from __future__ import annotations

import datetime
import itertools
import re
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import semver

from rootfs_ci import gitinfo
from rootfs_ci.errors import ConfigError
from rootfs_ci.fsutil import atomic_output
from rootfs_ci.version import CHANGELOG, UNRELEASED_NAME, headings, next_version, parse_version

LINK = re.compile(r"\[(?P<label>[^\]]+)\]:\s*(?P<url>\S+)\s*")  # fullmatch
LINK_BASE = re.compile(r"(?P<base>.+?)/(?:compare|releases/tag)/\S+")  # fullmatch
SUBHEADING = re.compile(r"^#{1,6}(?:\s|$)")
PREVIEW_LINES = 12


class ReleaseError(ConfigError):
    """The repository or its changelog is not in a state to release from; nothing was changed."""


@dataclass(frozen=True)
class ReleasePlan:
    changelog: Path
    previous: str | None
    version: str
    date: str
    old_text: str
    new_text: str
    section: tuple[str, ...]

    @property
    def tag(self) -> str:
        return f"v{self.version}"

    @property
    def message(self) -> str:
        return f"Release {self.tag}"


def _git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        result = gitinfo.git(repo, *args)
    except OSError as exc:
        raise ReleaseError(f"cannot run git ({exc}); install git") from None
    if check and result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise ReleaseError(f"git {args[0]} failed: {detail}")
    return result


def _links_start(lines: list[str]) -> int:
    """Index where the trailing block of link definitions (and blank lines) starts."""
    start = len(lines)
    while start > 0 and (not lines[start - 1].strip() or LINK.fullmatch(lines[start - 1])):
        start -= 1
    return start


def _strip_blank(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def _links(old: list[str], version: str, previous: str | None, fallback_url: str) -> list[str]:
    """The link block with [Unreleased] and [version] compare links; old links kept after them."""
    parsed = [(match["label"], match["url"]) for line in old if (match := LINK.fullmatch(line))]
    bases = [base["base"] for label, url in parsed if (base := LINK_BASE.fullmatch(url))]
    unreleased = [
        base["base"]
        for label, url in parsed
        if label.lower() == UNRELEASED_NAME.lower() and (base := LINK_BASE.fullmatch(url))
    ]
    url = (unreleased or bases or [fallback_url])[0].rstrip("/")
    kept = [f"[{label}]: {link}" for label, link in parsed if label.lower() not in (UNRELEASED_NAME.lower(), version)]
    if not url:
        return kept
    new = [
        f"[{UNRELEASED_NAME}]: {url}/compare/v{version}...HEAD",
        f"[{version}]: {url}/compare/v{previous}...v{version}"
        if previous
        else f"[{version}]: {url}/releases/tag/v{version}",
    ]
    return [*new, *kept]


def render_changelog(
    text: str, version: str, date: str, fallback_url: str = "", name: str = CHANGELOG
) -> tuple[str, tuple[str, ...]]:
    """(new changelog text, the new section's lines): [Unreleased] moved under ``## [version] - date``.

    Raises ReleaseError when there is no [Unreleased] section or it holds no notes.
    """
    found = headings(text, name)
    unreleased = next((heading for heading in found if heading.version is None), None)
    if unreleased is None:
        raise ReleaseError(f"{name} has no '## [{UNRELEASED_NAME}]' section; add one with the changes to release")
    if any(heading.version is not None and heading.index < unreleased.index for heading in found):
        raise ReleaseError(f"{name}: '## [{UNRELEASED_NAME}]' must come before the released versions; move it up")
    previous = next((str(heading.version) for heading in found if heading.version is not None), None)
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines()
    links_at = _links_start(lines)
    end = min([heading.index for heading in found if heading.index > unreleased.index] + [links_at])
    notes = _strip_blank(lines[unreleased.index + 1 : end])
    if not any(line.strip() and not SUBHEADING.match(line) for line in notes):
        raise ReleaseError(f"{name}: the [{UNRELEASED_NAME}] section has no notes; describe the changes under it first")
    section = (f"## [{version}] - {date}", "", *notes)
    out = [*lines[: unreleased.index], f"## [{UNRELEASED_NAME}]", "", *section]
    if older := _strip_blank(lines[end:links_at]):
        out += ["", *older]
    if links := _links(lines[links_at:], version, previous, fallback_url):
        out += ["", *links]
    return newline.join(out) + newline, section


def _tag_versions(repo: Path) -> list[semver.Version]:
    names = _git(repo, "tag", "--list", "v*").stdout.split()
    return [version for name in names if (version := parse_version(name[1:])) is not None]


def plan_release(project_dir: Path, bump: str, today: datetime.date | None = None) -> ReleasePlan:
    """Check everything a release needs and compute it; change nothing."""
    changelog = project_dir / CHANGELOG
    date = (today or datetime.datetime.now(datetime.UTC).date()).isoformat()
    if _git(project_dir, "rev-parse", "--show-toplevel", check=False).returncode != 0:
        raise ReleaseError(f"{project_dir} is not in a git repository; git init and commit the project first")
    if _git(project_dir, "rev-parse", "--verify", "-q", "HEAD", check=False).returncode != 0:
        raise ReleaseError(f"the git repository has no commits yet; commit the project (with {CHANGELOG}) first")
    try:
        with changelog.open(encoding="utf-8", newline="") as handle:  # keep CRLF line ends as they are
            text = handle.read()
    except FileNotFoundError:
        raise ReleaseError(f"{CHANGELOG} not found in {project_dir}; create it (Keep a Changelog format)") from None
    if _git(project_dir, "ls-files", "--error-unmatch", "--", str(changelog), check=False).returncode != 0:
        raise ReleaseError(f"{CHANGELOG} is not tracked by git; git add and commit it first")
    versions = [heading.version for heading in headings(text) if heading.version is not None]
    for newer, older in itertools.pairwise(versions):
        if newer <= older:
            raise ReleaseError(
                f"{CHANGELOG}: [{newer}] is listed above [{older}]; list releases newest first, each once"
            )
    current = versions[0] if versions else None
    upcoming = next_version(current, bump)
    if current is not None and upcoming <= current:
        raise ReleaseError(f"bump {bump} of {current} gives {upcoming}, which is not newer; choose another bump")
    version = str(upcoming)
    new_text, section = render_changelog(text, version, date, gitinfo.source_url(project_dir))
    dirty = _git(project_dir, "status", "--porcelain", "--untracked-files=no").stdout.splitlines()
    if dirty:
        shown = ", ".join(line[3:] for line in dirty[:3]) + (", ..." if len(dirty) > 3 else "")
        raise ReleaseError(f"the work tree has uncommitted changes ({shown}); commit or stash them first")
    if (
        _git(
            project_dir, "rev-parse", "-q", "--verify", "--end-of-options", f"refs/tags/v{version}", check=False
        ).returncode
        == 0
    ):
        raise ReleaseError(f"tag v{version} already exists; fix {CHANGELOG} or delete the tag")
    tagged = max(_tag_versions(project_dir), default=None)
    if tagged is not None and (current is None or tagged > current):
        changelog_says = f"{CHANGELOG}'s newest release is {current}" if current else f"{CHANGELOG} has no release yet"
        raise ReleaseError(
            f"git tag v{tagged} exists but {changelog_says}; add the [{tagged}] section to {CHANGELOG} "
            "(pull the branch that released it) first"
        )
    if current is not None and tagged != current:
        newest = f" (the newest is v{tagged})" if tagged else ""
        raise ReleaseError(
            f"{CHANGELOG}'s newest release {current} has no tag v{current}{newest}; "
            "fetch tags (git fetch --tags) or tag that release first"
        )
    if _git(project_dir, "var", "GIT_COMMITTER_IDENT", check=False).returncode != 0:
        raise ReleaseError("git has no committer identity; set git config user.name and user.email")
    return ReleasePlan(changelog, str(current) if current else None, version, date, text, new_text, section)


def _write(path: Path, text: str) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")
        tmp.chmod(mode)


def apply_release(plan: ReleasePlan) -> str:
    """Write the changelog, commit it and create the annotated tag; returns the release commit."""
    repo = plan.changelog.parent
    before = _git(repo, "rev-parse", "HEAD").stdout.strip()
    _write(plan.changelog, plan.new_text)
    try:
        _git(repo, "commit", "-q", "-m", plan.message, "--", str(plan.changelog))
        _git(repo, "tag", "-a", "-m", plan.message, "--", plan.tag)
    except BaseException:
        if _git(repo, "rev-parse", "HEAD", check=False).stdout.strip() != before:
            _git(repo, "reset", "-q", before, "--", check=False)
        _write(plan.changelog, plan.old_text)
        raise
    return _git(repo, "rev-parse", "HEAD").stdout.strip()


def describe(plan: ReleasePlan) -> list[str]:
    """What a release does, for --dry-run."""
    since = f"after {plan.previous}" if plan.previous else "first release"
    preview = list(plan.section[:PREVIEW_LINES])
    if len(plan.section) > PREVIEW_LINES:
        preview.append("...")
    return [
        f"would release {plan.tag} ({since}) dated {plan.date}",
        f"would commit {plan.changelog.name} as '{plan.message}' and create the annotated tag {plan.tag}",
        f"new section in {plan.changelog.name}:",
        *(f"  {line}" if line else "" for line in preview),
    ]
