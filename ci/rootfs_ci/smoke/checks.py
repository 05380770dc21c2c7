"""The checks of a smoke spec on the image and its files. Each returns CheckResults; a check that crashes
fails, it never aborts the run. The checks on the running CMD are in rootfs_ci.smoke.runtime."""

from __future__ import annotations

import io
import re
import stat
import tarfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from docker.errors import NotFound
from docker.models.containers import Container
from docker.models.images import Image

from rootfs_ci.records import CheckResult
from rootfs_ci.smoke import spec as s
from rootfs_ci.smoke.containers import RunContainers

Outcome = tuple[bool, str, str]  # passed, expected, got
LOG_WAIT = 5.0  # seconds a log check waits for its lines


def timed(section: str, name: str, check: Callable[[], Outcome]) -> CheckResult:
    started = time.monotonic()
    try:
        passed, expected, got = check()
    except Exception as exc:  # a broken check is a failed check, reported with its reason
        passed, expected, got = False, "the check to run", f"{type(exc).__name__}: {exc}"
    return CheckResult(section, name, passed, time.monotonic() - started, expected, got)


def instant(section: str, name: str, passed: bool, expected: object, got: object) -> CheckResult:
    """A check whose answer is already known (image metadata, sizes)."""
    return CheckResult(section, name, passed, 0.0, str(expected), str(got))


@dataclass
class Target:
    """The image under test and the container running its own CMD."""

    image: Image
    reference: str
    containers: RunContainers
    run_options: dict[str, Any]
    container: Container | None = None
    host_ports: dict[int, int] = field(default_factory=dict)

    def host_port(self, port: int | None) -> int:
        if port is None:
            if not self.host_ports:
                raise ValueError("the image exposes no port; give the check a port")
            port = min(self.host_ports)
        if port not in self.host_ports:
            raise ValueError(f"container port {port} is not exposed by the image")
        return self.host_ports[port]

    def running(self) -> Container:
        if self.container is None:
            raise ValueError("the container is not running")
        return self.container


def matches_all(patterns: Iterable[str], text: str) -> list[str]:
    """The patterns that do NOT match."""
    return [pattern for pattern in patterns if not re.search(pattern, text, re.MULTILINE)]


def matches_any(patterns: Iterable[str], text: str) -> list[str]:
    return [pattern for pattern in patterns if re.search(pattern, text, re.MULTILINE)]


# ---- image metadata and size ------------------------------------------------------------------


def metadata_checks(test: s.MetadataTest, image: Image) -> list[CheckResult]:
    config = image.attrs.get("Config") or {}
    results = []

    def compare(name: str, expected: object, got: object) -> None:
        results.append(instant("metadataTest", name, expected == got, repr(expected), repr(got)))

    if test.cmd is not None:
        compare("cmd", list(test.cmd), config.get("Cmd") or [])
    if test.entrypoint is not None:
        compare("entrypoint", list(test.entrypoint), config.get("Entrypoint") or [])
    exposed = sorted(key.split("/")[0] for key in (config.get("ExposedPorts") or {}))
    if test.exposedPorts is not None:
        compare("exposedPorts", sorted(test.exposedPorts), exposed)
    for port in test.unexposedPorts:
        compare(f"port {port} not exposed", True, port not in exposed)
    if test.workdir is not None:
        compare("workdir", test.workdir, config.get("WorkingDir") or "")
    if test.user is not None:
        compare("user", test.user, config.get("User") or "")
    env = dict(item.partition("=")[::2] for item in config.get("Env") or [])
    for variable in test.envVars:
        compare(f"env {variable.key}", variable.value, env.get(variable.key))
    image_labels = config.get("Labels") or {}
    for label in test.labels:
        value = image_labels.get(label.key)
        if label.isRegex:
            matched = value is not None and re.search(label.value, value) is not None
            results.append(instant("metadataTest", f"label {label.key}", matched, f"/{label.value}/", repr(value)))
        else:
            compare(f"label {label.key}", label.value, value)
    return results


def size_checks(budget: s.SizeBudget, rootfs_bytes: int | None, layer_bytes: int | None) -> list[CheckResult]:
    results = []
    for name, limit, actual in (
        ("rootfs bytes", budget.rootfsBytes, rootfs_bytes),
        ("layer bytes", budget.layerBytes, layer_bytes),
    ):
        if limit is not None:
            got = "unknown (no build record for this image)" if actual is None else actual
            results.append(instant("sizeBudget", name, actual is not None and actual <= limit, f"<= {limit}", got))
    return results


# ---- files, read through the engine's archive API (works on images without any tools) ---------


def archive_member(container: Container, path: str) -> tuple[tarfile.TarInfo, bytes] | None:
    try:
        stream, _stat = container.get_archive(path)
    except NotFound:
        return None
    data = b"".join(stream)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.getmembers()[0]
        content = b""
        if member.isfile():
            extracted = tar.extractfile(member)
            content = extracted.read() if extracted else b""
        return member, content


def _mode_string(member: tarfile.TarInfo) -> str:
    kind = stat.S_IFDIR if member.isdir() else stat.S_IFLNK if member.issym() else stat.S_IFREG
    return stat.filemode(kind | member.mode)


EXEC_BITS = {"any": 0o111, "owner": 0o100, "group": 0o010, "other": 0o001}


def file_existence_check(test: s.FileExistenceTest, target: Target) -> CheckResult:
    def check() -> Outcome:
        found = archive_member(target.running(), test.path)
        if not test.shouldExist:
            return found is None, f"{test.path} absent", "absent" if found is None else "present"
        if found is None:
            return False, f"{test.path} present", "absent"
        member, _ = found
        problems = []
        if test.permissions is not None and _mode_string(member) != test.permissions:
            problems.append(f"permissions {_mode_string(member)} != {test.permissions}")
        if test.uid is not None and member.uid != test.uid:
            problems.append(f"uid {member.uid} != {test.uid}")
        if test.gid is not None and member.gid != test.gid:
            problems.append(f"gid {member.gid} != {test.gid}")
        if test.isExecutableBy is not None and not member.mode & EXEC_BITS[test.isExecutableBy]:
            problems.append(f"not executable by {test.isExecutableBy} ({_mode_string(member)})")
        if test.symlinkTo is not None and (not member.issym() or member.linkname != test.symlinkTo):
            problems.append(f"not a symlink to {test.symlinkTo} (link target: {member.linkname or 'none'})")
        got = "; ".join(problems) or f"{_mode_string(member)} {member.uid}:{member.gid} {member.linkname}".strip()
        return not problems, f"{test.path} as specified", got

    return timed("fileExistenceTests", test.name, check)


def file_content_check(test: s.FileContentTest, target: Target) -> CheckResult:
    def check() -> Outcome:
        found = archive_member(target.running(), test.path)
        if found is None:
            return False, f"{test.path} present", "absent"
        text = found[1].decode(errors="replace")
        missing = matches_all(test.expectedContents, text)
        excluded = matches_any(test.excludedContents, text)
        expected = f"matches {list(test.expectedContents)}, not {list(test.excludedContents)}"
        got = f"missing {missing}, excluded present {excluded}" if missing or excluded else "as expected"
        return not missing and not excluded, expected, got

    return timed("fileContentTests", test.name, check)
