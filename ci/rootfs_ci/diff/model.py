"""What a diff is made of: file entries, their changes, package changes, sizes, and the report."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Entry:
    """One path of an image's file tree, with what a diff compares."""

    path: str  # absolute, e.g. /bin/start.sh
    kind: str  # file, dir, symlink, hardlink, char, block, fifo
    size: int
    mode: int  # permission bits, setuid/setgid/sticky included
    uid: int
    gid: int
    link: str = ""  # symlink or hard link target
    digest: str = ""  # sha256 of a regular file's content


# Entry fields a change names, in the order a report shows them.
COMPARED = ("kind", "size", "mode", "owner", "link", "digest")


def changed_fields(before: Entry, after: Entry) -> tuple[str, ...]:
    def value(entry: Entry, name: str) -> object:
        return (entry.uid, entry.gid) if name == "owner" else getattr(entry, name)

    return tuple(name for name in COMPARED if value(before, name) != value(after, name))


@dataclass(frozen=True)
class FileChange:
    path: str
    change: str  # added, removed, changed
    before: Entry | None
    after: Entry | None
    fields: tuple[str, ...] = ()  # for 'changed': which of COMPARED differ

    @property
    def size_delta(self) -> int:
        return (self.after.size if self.after else 0) - (self.before.size if self.before else 0)


@dataclass(frozen=True)
class DirSummary:
    """Changes under one top-level directory ('/' for files at the root)."""

    directory: str
    added: int = 0
    removed: int = 0
    changed: int = 0
    size_delta: int = 0


@dataclass(frozen=True)
class PackageChange:
    name: str
    change: str  # added, removed, changed
    before: str | None
    after: str | None


@dataclass(frozen=True)
class SizeChange:
    what: str  # rootfs, compressed layer
    before: int | None  # None: unknown for that side (e.g. an engine image has no compressed layer)
    after: int | None

    @property
    def delta(self) -> int | None:
        return None if self.before is None or self.after is None else self.after - self.before

    @property
    def relative(self) -> float | None:
        delta = self.delta
        return None if delta is None or not self.before else delta / self.before


@dataclass(frozen=True)
class Packages:
    """The package diff, or why there is none (a side without an SBOM)."""

    changes: tuple[PackageChange, ...] = ()
    missing: tuple[str, ...] = ()  # one line per side that has no SBOM


@dataclass(frozen=True)
class DiffReport:
    image: str
    arch: str
    before: str  # what was compared against, e.g. 127.0.0.1:5000/apacheinit:0.1.0
    after: str  # the current build, e.g. dist/apacheinit/x86_64
    before_digest: str
    after_digest: str
    identical: bool
    warnings: tuple[str, ...]  # budget breaches, removed smoke-tested files: shown first
    sizes: tuple[SizeChange, ...]
    files: tuple[FileChange, ...]
    directories: tuple[DirSummary, ...]
    packages: Packages
    config: tuple[str, ...] = field(default=())  # image config keys that differ (Cmd, Env, ...)
