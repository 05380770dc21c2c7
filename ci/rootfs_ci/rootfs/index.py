"""A Debian archive's package index, read without apt: InRelease verified with gpgv, then the
Packages file it names checked by sha256. Indexes are cached by content, so builds sharing a
cache dir never step on each other."""

from __future__ import annotations

import gzip
import lzma
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from debian.deb822 import Packages, Release
from debian.debian_support import version_compare

from rootfs_ci.errors import BackendError, ConfigError
from rootfs_ci.fsutil import scratch_dir
from rootfs_ci.procs import run_tool
from rootfs_ci.rootfs.sources import Sources
from rootfs_ci.rootfs.transport import Unavailable, download

# Packages files in the order we prefer them (all are listed in InRelease with their sha256).
COMPRESSIONS: tuple[tuple[str, Callable[[bytes], bytes]], ...] = (
    (".xz", lzma.decompress),
    (".gz", gzip.decompress),
    ("", bytes),
)


@dataclass(frozen=True)
class Candidate:
    """One package stanza of the index: what the lock pins."""

    name: str
    version: str
    arch: str
    filename: str
    size: int
    sha256: str
    suite: str  # the suite whose index named it: its archive serves the .deb


def verified_release(base_url: str, suite: str, keyring: Path, scratch: Path) -> Release:
    """The suite's InRelease, its signature checked by gpgv against ``keyring`` only."""
    if shutil.which("gpgv") is None:
        raise BackendError("gpgv not found: the debian backend verifies InRelease with it (apt-get install gpgv)")
    if not keyring.is_file():
        raise ConfigError(f"keyring {keyring} not found: install debian-archive-keyring or set debian_sources.keyring")
    signed, verified = scratch / "InRelease", scratch / "Release"
    try:
        download(f"{base_url}/dists/{suite}/InRelease", signed)
    except Unavailable as exc:
        raise BackendError(f"cannot fetch the {suite} InRelease ({exc}); check the mirror URL") from None
    (scratch / "gnupg").mkdir(mode=0o700)
    result = run_tool(
        ["gpgv", "--homedir", str(scratch / "gnupg"), "--keyring", str(keyring.resolve()),
         "--output", str(verified), str(signed)]
    )  # fmt: skip
    if result.returncode != 0:
        raise BackendError(f"{base_url}/dists/{suite}/InRelease: signature not valid for keyring {keyring}")
    release = Release(verified.read_text())
    if suite not in (release.get("Suite"), release.get("Codename")):
        raise BackendError(f"{base_url}/dists/{suite}/InRelease describes suite {release.get('Suite')!r}, not {suite}")
    return release


def _packages_file(release: Release, base_url: str, suite: str, component: str, deb_arch: str,
                   cache_dir: Path) -> bytes:  # fmt: skip
    listed = {entry["name"]: entry for entry in release.get("SHA256", [])}
    for suffix, decompress in COMPRESSIONS:
        name = f"{component}/binary-{deb_arch}/Packages{suffix}"
        if name not in listed:
            continue
        sha256, size = listed[name]["sha256"], int(listed[name]["size"])
        cached = cache_dir / "debian" / "indexes" / f"{sha256}{suffix}"
        if not cached.is_file():
            try:
                download(f"{base_url}/dists/{suite}/{name}", cached, sha256=sha256, size=size)
            except Unavailable as exc:
                raise BackendError(f"cannot fetch {name} of {suite} ({exc})") from None
        return decompress(cached.read_bytes())
    raise BackendError(f"{suite} has no {component}/binary-{deb_arch} Packages index; check components")


def _stanzas(index: bytes, wanted: set[str]) -> Iterable[Packages]:
    """Only the stanzas of ``wanted`` packages are parsed (a suite's index has ~60,000)."""
    for block in index.decode("utf-8", errors="replace").split("\n\n"):
        head = block.lstrip("\n").partition("\n")[0]
        if head.startswith("Package:") and head[8:].strip() in wanted:
            yield Packages(block)


def _newest(found: dict[str, Candidate], candidate: Candidate) -> None:
    known = found.get(candidate.name)
    if known is None or version_compare(candidate.version, known.version) > 0:
        found[candidate.name] = candidate


def _suite_candidates(sources: Sources, base_url: str, suite: str, wanted: set[str], deb_arch: str,
                      cache_dir: Path) -> dict[str, Candidate]:  # fmt: skip
    """For each wanted name in ``suite``, its newest version in the first component that has it."""
    found: dict[str, Candidate] = {}
    with scratch_dir(cache_dir / "tmp", "index-") as scratch:
        release = verified_release(base_url, suite, sources.keyring, scratch)
    for component in sources.components:
        index = _packages_file(release, base_url, suite, component, deb_arch, cache_dir)
        in_component: dict[str, Candidate] = {}
        for stanza in _stanzas(index, wanted - found.keys()):
            _newest(in_component, Candidate(
                stanza["Package"], stanza["Version"], stanza.get("Architecture", deb_arch),
                stanza["Filename"], int(stanza["Size"]), stanza["SHA256"], suite,
            ))  # fmt: skip
        found.update(in_component)
    return found


def newest_candidates(sources: Sources, names: Iterable[str], deb_arch: str, cache_dir: Path) -> list[Candidate]:
    """For each name, its newest version across the sources' suites (as apt picks the candidate of a
    stock Debian install); on a tie the earlier suite keeps it. One line if any name is missing."""
    wanted, found = set(names), dict[str, Candidate]()
    for base_url, suite in sources.indexes():
        for candidate in _suite_candidates(sources, base_url, suite, wanted, deb_arch, cache_dir).values():
            _newest(found, candidate)
    missing = sorted(wanted - found.keys())
    if missing:
        suites = ", ".join(suite for _, suite in sources.indexes())
        raise BackendError(
            f"Debian package(s) {', '.join(missing)} ({deb_arch}) not in {suites} "
            f"({'/'.join(sources.components)}); check debian.packages and debian.sources"
        )
    return [found[name] for name in sorted(found)]
