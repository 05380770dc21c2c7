"""Follow a Buildroot build: progress per package step, the full log in a file, a clear failure report.

Buildroot announces every step of every package as ``>>> pkg version Step`` (and its own steps,
such as copying overlays, as ``>>>   Step``). A package is done when Buildroot has touched its
``.stamp_installed`` (in the ``stamp_dir`` that ``make show-info`` reports), which is exact even
though Buildroot interleaves packages (a package is extracted before its dependencies are built).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from rootfs_ci.buildroot.make import Make
from rootfs_ci.errors import BackendError
from rootfs_ci.progress import Progress

TAIL_LINES = 40
ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\([A-Z0-9]")
PACKAGE_STEP = re.compile(r"^>>> (?P<package>\S+) (?P<version>\S*) (?P<action>\S.*?)\s*$")
OWN_STEP = re.compile(r"^>>>\s+(?P<action>\S.*?)\s*$")
INSTALLED_STAMP = ".stamp_installed"


@dataclass(frozen=True)
class Step:
    package: str  # "" for Buildroot's own steps (finalizing, overlays, filesystem images)
    version: str
    action: str

    def __str__(self) -> str:
        if not self.package:
            return self.action
        return f"{self.package} {self.version}: {self.action}" if self.version else f"{self.package}: {self.action}"


def plain(line: str) -> str:
    """A log line without the terminal attributes Buildroot puts around '>>>' lines."""
    return ESCAPES.sub("", line)


def parse_step(line: str) -> Step | None:
    text = plain(line)
    if text.startswith(">>>   ") or text.startswith(">>>\t"):
        own = OWN_STEP.match(text)
        return Step("", "", own["action"]) if own else None
    match = PACKAGE_STEP.match(text)
    return Step(match["package"], match["version"], match["action"]) if match else None


class PackageTracker:
    """Packages done out of the total, from show-info's package list and Buildroot's stamp files.

    Packages already installed before the build count at once; others once Buildroot has
    announced them and their stamp exists (so a slow reader of the log never runs ahead of it).
    """

    def __init__(self, show_info: Mapping[str, Any], output: Path) -> None:
        self.stamps = {
            name: output / str(entry["stamp_dir"]) / INSTALLED_STAMP
            for name, entry in show_info.items()
            if isinstance(entry, Mapping) and entry.get("type") != "rootfs" and entry.get("stamp_dir")
        }
        self.done = {name for name, stamp in self.stamps.items() if stamp.exists()}
        self.announced: set[str] = set()

    @property
    def total(self) -> int:
        return len(self.stamps)

    def announce(self, package: str) -> None:
        if package in self.stamps:
            self.announced.add(package)
        self._refresh(self.announced)

    def finish(self) -> None:
        self._refresh(set(self.stamps))

    def _refresh(self, candidates: set[str]) -> None:
        self.done |= {name for name in candidates - self.done if self.stamps[name].exists()}

    def counts(self) -> str:
        return f"[{len(self.done)}/{self.total}]"


@dataclass
class BuildFollower:
    """Receives each output line of ``make``: log file, tail, progress lines."""

    tracker: PackageTracker
    log: TextIO
    progress: Progress
    current: Step | None = None

    def __post_init__(self) -> None:
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)

    def __call__(self, line: str) -> None:
        self.log.write(line + "\n")
        self.tail.append(plain(line))
        step = parse_step(line)
        if step is None:
            return
        self.log.flush()
        self.tracker.announce(step.package)
        self.current = step
        self.progress.step(f"{self.tracker.counts()} {step}")


def run_build(make: Make, tracker: PackageTracker, log_path: Path, progress: Progress) -> None:
    """``make`` (Buildroot's default target: the whole system and its images), followed line by line."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    progress.step(f"{tracker.counts()} packages built so far; full log: {log_path}")
    with log_path.open("w", encoding="utf-8") as log:
        follower = BuildFollower(tracker, log, progress)
        status = make.stream(follower)
    tracker.finish()
    if status == 0:
        progress.step(f"{tracker.counts()} Buildroot finished")
        return
    where = f"in {follower.current}" if follower.current else "before its first package step (host checks?)"
    progress.step(f"Buildroot failed {where}; last {len(follower.tail)} lines of {log_path}:")
    for line in follower.tail:
        print(line, file=progress.stream, flush=True)
    if follower.current is not None and follower.current.package:
        what = (
            f"package {follower.current.package} {follower.current.version} failed at step '{follower.current.action}'"
        )
    elif follower.current is not None:
        what = f"step '{follower.current.action}' failed"
    else:
        what = "make failed before building any package"
    raise BackendError(f"Buildroot build: {what} (exit status {status}); full log: {log_path}")
