"""Fetch Debian binary packages with the host's apt, cached by name + version + sha256."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rootfs_ci.errors import BackendError
from rootfs_ci.fsutil import scratch_dir, sha256_file, write_atomic
from rootfs_ci.procs import run_tool
from rootfs_ci.progress import Progress


@dataclass(frozen=True)
class DebPackage:
    name: str
    version: str
    arch: str
    sha256: str
    path: Path


def deb_file_name(name: str, version: str, arch: str) -> str:
    """The file name apt-get download gives a package (the epoch colon is URL-quoted)."""
    return f"{name}_{version.replace(':', '%3a')}_{arch}.deb"


@dataclass(frozen=True)
class Apt:
    """The host's apt, optionally pointed at another architecture's package lists."""

    options: tuple[str, ...] = ()

    def _run(self, tool: str, args: Sequence[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        if shutil.which(tool) is None:
            raise BackendError(f"{tool} not found: the debian backend needs apt (Debian or Ubuntu host)")
        return run_tool([tool, "-o", "APT::Sandbox::User=root", *self.options, *args], cwd=cwd)

    def show(self, names: Sequence[str], deb_arch: str) -> dict[str, tuple[str, str, str]]:
        """name -> (version, architecture, sha256) of each package's candidate for ``deb_arch``."""
        result = self._run("apt-cache", ["show", "--no-all-versions", "--", *(f"{name}:{deb_arch}" for name in names)])
        found: dict[str, tuple[str, str, str]] = {}
        for stanza in result.stdout.split("\n\n"):
            fields = dict(
                (key, value.strip())
                for key, _, value in (line.partition(":") for line in stanza.splitlines() if not line.startswith(" "))
            )
            if {"Package", "Version", "SHA256"} <= fields.keys():
                found.setdefault(
                    fields["Package"], (fields["Version"], fields.get("Architecture", deb_arch), fields["SHA256"])
                )
        missing = [name for name in names if name not in found]
        if missing:
            raise BackendError(
                f"Debian package(s) {', '.join(missing)} ({deb_arch}) not in the apt lists; check the names in "
                "debian.packages, or run 'apt-get update' if the lists are empty"
            )
        return found

    def download(self, specs: Sequence[str], into: Path) -> None:
        result = self._run("apt-get", ["download", "-q", "--", *specs], cwd=into)
        if result.returncode != 0:
            reason = next((line for line in result.stderr.splitlines() if line.startswith("E:")), result.stderr.strip())
            raise BackendError(f"apt-get download {' '.join(specs)} failed: {reason[:300]}")


def host_deb_arch() -> str:
    try:
        return subprocess.run(
            ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        raise BackendError("dpkg not found: the debian backend needs a Debian or Ubuntu host") from None


LISTS_MAX_AGE = 24 * 3600


def apt_for(deb_arch: str, cache_dir: Path, progress: Progress) -> Apt:
    """The host's apt for its own architecture; for another one, apt with its own package lists
    under the cache (the host's dpkg configuration is left alone), refreshed once a day."""
    if deb_arch == host_deb_arch():
        return Apt()
    root = cache_dir / "apt" / deb_arch
    for directory in ("lists/partial", "cache/archives/partial"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    (root / "status").touch()
    apt = Apt(
        (
            "-o", f"APT::Architecture={deb_arch}",
            "-o", f"APT::Architectures={deb_arch}",
            "-o", f"Dir::State::Lists={root / 'lists'}",
            "-o", f"Dir::State::Status={root / 'status'}",
            "-o", f"Dir::Cache={root / 'cache'}",
        )
    )  # fmt: skip
    lists = [path for path in (root / "lists").glob("*_Packages*")]
    if not lists or time.time() - min(path.stat().st_mtime for path in lists) > LISTS_MAX_AGE:
        progress.step(f"apt-get update for {deb_arch} package lists")
        result = apt._run("apt-get", ["update", "-q"])
        if result.returncode != 0:
            reason = next((line for line in result.stderr.splitlines() if line.startswith("E:")), result.stderr.strip())
            raise BackendError(f"apt-get update for {deb_arch} failed: {reason[:300]}")
    return apt


def lists_fingerprint(apt: Apt) -> str:
    """Changes whenever apt's package lists change (apt-get update), so resolutions can be reused."""
    lists = Path("/var/lib/apt/lists")
    for option in apt.options:
        if option.startswith("Dir::State::Lists="):
            lists = Path(option.partition("=")[2])
    entries = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in lists.glob("*_Packages*"))
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()


def resolve(apt: Apt, names: Sequence[str], deb_arch: str, cache_dir: Path) -> dict[str, tuple[str, str, str]]:
    """apt.show, remembered until the package lists change (apt-cache takes a second or two)."""
    key = hashlib.sha256(json.dumps([lists_fingerprint(apt), deb_arch, sorted(names)]).encode()).hexdigest()
    remembered = cache_dir / "apt" / "resolved" / f"{key}.json"
    try:
        return {name: (v[0], v[1], v[2]) for name, v in json.loads(remembered.read_text()).items()}
    except (OSError, ValueError, IndexError, AttributeError):
        pass
    candidates = apt.show(names, deb_arch)
    write_atomic(remembered, json.dumps(candidates).encode())
    return candidates


def fetch_packages(
    apt: Apt, names: Sequence[str], deb_arch: str, cache_dir: Path, progress: Progress
) -> list[DebPackage]:
    """Resolve and fetch ``names``; a .deb already cached with the right sha256 is not fetched again."""
    debs_dir = cache_dir / "debs" / deb_arch
    debs_dir.mkdir(parents=True, exist_ok=True)
    packages: list[DebPackage] = []
    missing: list[DebPackage] = []
    candidates = resolve(apt, names, deb_arch, cache_dir)
    for name in names:
        version, arch, sha256 = candidates[name]
        package = DebPackage(name, version, arch, sha256, debs_dir / deb_file_name(name, version, arch))
        packages.append(package)
        if not (package.path.exists() and sha256_file(package.path) == sha256):
            missing.append(package)
    progress.step(f"{len(packages)} packages: {len(packages) - len(missing)} cached, {len(missing)} to fetch")
    if missing:
        with scratch_dir(cache_dir / "tmp", "apt-") as tmp:
            apt.download([f"{p.name}:{deb_arch}={p.version}" for p in missing], tmp)
            for package in missing:
                fetched = tmp / package.path.name
                if not fetched.exists() or sha256_file(fetched) != package.sha256:
                    raise BackendError(
                        f"{package.path.name}: downloaded file is missing or its sha256 differs from the apt "
                        "lists; run 'apt-get update' and build again"
                    )
                fetched.replace(package.path)
                progress.step(f"fetched {package.path.name} ({package.path.stat().st_size / 1e6:.2f} MB)")
    return packages
