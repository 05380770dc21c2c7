"""The checks of a smoke spec on the image and its files. Each returns CheckResults; a check that crashes
fails, it never aborts the run. The checks on the running CMD are in rootfs_ci.smoke.runtime."""

from __future__ import annotations

import contextlib
import io
import posixpath
import re
import tarfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from docker.errors import APIError, NotFound
from docker.models.containers import Container
from docker.models.images import Image

from rootfs_ci.records import CheckResult
from rootfs_ci.smoke import golang
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
    """The image under test, the container running its own CMD, and one created (never started)
    container of the image whose files CST's file checks read, as CST does."""

    image: Image
    reference: str
    containers: RunContainers
    run_options: dict[str, Any]
    container: Container | None = None
    host_ports: dict[int, int] = field(default_factory=dict)
    global_env: tuple[s.EnvVar, ...] = ()
    _pristine: Container | None = None
    _pristine_lock: threading.Lock = field(default_factory=threading.Lock)

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

    def pristine(self) -> Container:
        with self._pristine_lock:  # file and license checks ask for it at the same time
            if self._pristine is None:
                self._pristine = self.containers.create(self.reference, command=["NOOP_COMMAND_DO_NOT_RUN"])
            return self._pristine

    def image_env(self) -> dict[str, str]:
        return golang.env_map((self.image.attrs.get("Config") or {}).get("Env"))

    def env(self) -> dict[str, str]:
        """The image's environment with globalEnvVars added, their values expanded against the image's
        (CST commits them into a new image first)."""
        image_env = self.image_env()
        return image_env | {var.key: golang.expand_env(var.value, image_env) for var in self.global_env}


def matches_all(patterns: Iterable[str], text: str) -> list[str]:
    """The patterns (Python regexes, our keys: each line is a line) that do NOT match."""
    return [pattern for pattern in patterns if not re.search(pattern, text, re.MULTILINE)]


def matches_any(patterns: Iterable[str], text: str) -> list[str]:
    return [pattern for pattern in patterns if re.search(pattern, text, re.MULTILINE)]


def go_missing(patterns: Iterable[str], text: str) -> list[str]:
    """The patterns (Go regexes over the whole text, CST's keys) that do NOT match."""
    return [pattern for pattern in patterns if not golang.search(pattern, text)]


def go_present(patterns: Iterable[str], text: str) -> list[str]:
    return [pattern for pattern in patterns if golang.search(pattern, text)]


# ---- image metadata and size ------------------------------------------------------------------


def _value_check(name: str, pattern: str, is_regex: bool, value: str | None) -> CheckResult:
    """A label or env var of the image: present, and equal to (or, isRegex, matching) the value."""
    if is_regex:
        passed = value is not None and golang.search(pattern, value)
        return instant("metadataTest", name, passed, f"/{pattern}/", repr(value))
    return instant("metadataTest", name, value == pattern, repr(pattern), repr(value))


def metadata_checks(test: s.MetadataTest, image: Image) -> list[CheckResult]:
    """CST's metadataTest, one result per field it checks; an empty value or list checks nothing."""
    config = image.attrs.get("Config") or {}
    env = golang.env_map(config.get("Env"))
    results = [_value_check(f"env {var.key}", var.value, var.isRegex, env.get(var.key)) for var in test.envVars]
    results += [
        instant("metadataTest", f"env {var.key} unset", var.key not in env, "unset", "set")
        for var in test.unboundEnvVars
    ]
    image_labels = config.get("Labels") or {}
    for label in test.labels:
        results.append(_value_check(f"label {label.key}", label.value, label.isRegex, image_labels.get(label.key)))
    for key, argv in (("cmd", test.cmd), ("entrypoint", test.entrypoint)):
        if argv is not None:
            got = config.get(key.capitalize()) or []
            results.append(instant("metadataTest", key, list(argv) == got, list(argv), got))
    for key, value, got in (
        ("workdir", test.workdir, config.get("WorkingDir")),
        ("user", test.user, config.get("User")),
    ):
        if value:  # empty: not checked, as in CST
            results.append(instant("metadataTest", key, value == (got or ""), repr(value), repr(got or "")))
    ports = sorted({key.split("/")[0] for key in config.get("ExposedPorts") or {}})
    volumes = sorted(config.get("Volumes") or {})
    for kind, have, wanted, unwanted in (
        ("port", ports, test.exposedPorts, test.unexposedPorts),
        ("volume", volumes, test.volumes, test.unmountedVolumes),
    ):
        results += [instant("metadataTest", f"{kind} {item}", item in have, f"in {have}", "absent") for item in wanted]
        results += [
            instant("metadataTest", f"{kind} {item} absent", item not in have, f"not in {have}", "present")
            for item in unwanted
        ]
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


# ---- files, read as CST reads them: through the engine's archive API, from a created container ----


class FileProblem(Exception):
    """A path CST could not stat or read (missing, a directory to read, a symlink loop)."""


class _Chunks(io.RawIOBase):
    """An HTTP body's chunks as a file, read only as far as its reader goes."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = chunk
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def tar_stream(chunks: Iterator[bytes]) -> tarfile.TarFile:
    """A tar read front to back from ``chunks``, never further than its reader asks."""
    return tarfile.open(fileobj=io.BufferedReader(_Chunks(chunks)), mode="r|")


@contextlib.contextmanager
def archive(container: Container, path: str) -> Iterator[tarfile.TarFile]:
    """The engine's tar of ``path`` (CST reads files through it), as a stream: a check that has what
    it needs stops, so a stat of /usr reads one header, not the whole directory."""
    try:
        chunks, _stat = container.get_archive(path)
    except NotFound:
        raise FileProblem(f"{path} does not exist") from None
    except APIError as exc:  # e.g. a path through a file: "not a directory"
        raise FileProblem(f"{path}: {exc.explanation or exc}") from None
    try:
        with tar_stream(chunks) as tar:
            yield tar
    except tarfile.TarError as exc:
        raise FileProblem(f"{path}: the engine's archive is unreadable ({exc})") from None
    finally:
        chunks.close()  # the rest is not read: the engine stops sending it


def go_base(path: str) -> str:
    """Go's path.Base."""
    stripped = path.rstrip("/")
    if not stripped:
        return "/" if path else "."
    return stripped.rpartition("/")[2]


def _named(member: tarfile.TarInfo, path: str) -> bool:
    name = member.name or "/"  # tarfile strips a directory's trailing '/': the root "/" becomes ""
    return posixpath.normpath(name) == go_base(path)


def stat_member(tar: tarfile.TarFile, path: str) -> tarfile.TarInfo:
    """CST's StatFile in the archive of ``path``: its directory, file, hard link or symlink (not
    followed) entry, which comes first; nothing after it is read."""
    for member in tar:
        if (member.isdir() or member.isfile() or member.islnk() or member.issym()) and _named(member, path):
            return member
    raise FileProblem(f"{path} not found in the image")


def stat_entry(container: Container, path: str) -> tarfile.TarInfo:
    with archive(container, path) as tar:
        return stat_member(tar, path)


def read_member(tar: tarfile.TarFile, path: str) -> bytes | str:
    """CST's ReadFile in the archive of ``path``: the file's content, or the target of the symlink
    at ``path`` (a str) for the caller to read in turn."""
    for member in tar:
        if member.issym():
            return member.linkname
        if not _named(member, path):
            continue
        if member.isdir():
            raise FileProblem(f"{path} is a directory, not a file")
        if member.isfile():
            extracted = tar.extractfile(member)
            return extracted.read() if extracted else b""
        if member.islnk():
            raise FileProblem(f"{path} is a hard link to {member.linkname} in the engine's archive; read that path")
    raise FileProblem(f"{path} not found in the image")


def read_file(container: Container, path: str, depth: int = 0) -> bytes:
    """CST's ReadFile: the content at ``path``; a symlink is followed (its target read as written)."""
    if depth > SYMLINK_DEPTH:
        raise FileProblem(f"{path}: too many levels of symbolic links")
    with archive(container, path) as tar:
        content = read_member(tar, path)
    if isinstance(content, str):
        return read_file(container, content, depth + 1)
    return content


def go_mode(member: tarfile.TarInfo) -> str:
    return golang.file_mode(member.mode, "dir" if member.isdir() else "symlink" if member.issym() else "file")


EXEC_BITS = {"any": 0o111, "owner": 0o100, "group": 0o010, "other": 0o001}
SYMLINK_DEPTH = 40


def _existence_problems(test: s.FileExistenceTest, member: tarfile.TarInfo) -> list[str]:
    problems = []
    if test.permissions and go_mode(member) != test.permissions:
        problems.append(f"permissions {go_mode(member)} != {test.permissions}")
    if test.isExecutableBy and not member.mode & EXEC_BITS[test.isExecutableBy]:
        problems.append(f"not executable by {test.isExecutableBy} ({go_mode(member)})")
    if test.uid not in (-1, member.uid):
        problems.append(f"uid {member.uid} != {test.uid}")
    if test.gid not in (-1, member.gid):
        problems.append(f"gid {member.gid} != {test.gid}")
    if test.symlinkTo is not None and (not member.issym() or member.linkname != test.symlinkTo):
        problems.append(f"not a symlink to {test.symlinkTo} (link target: {member.linkname or 'none'})")
    return problems


def file_existence_check(test: s.FileExistenceTest, target: Target) -> CheckResult:
    def check() -> Outcome:
        path = golang.expand_env(test.path, target.env())
        try:
            member = stat_entry(target.pristine(), path)
        except FileProblem as problem:
            return not test.shouldExist, f"{path} {'present' if test.shouldExist else 'absent'}", str(problem)
        if not test.shouldExist:
            return False, f"{path} absent", "present"
        problems = _existence_problems(test, member)
        got = "; ".join(problems) or f"{go_mode(member)} {member.uid}:{member.gid} {member.linkname}".strip()
        return not problems, f"{path} as specified", got

    return timed("fileExistenceTests", test.name, check)


def file_content_check(test: s.FileContentTest, target: Target) -> CheckResult:
    def check() -> Outcome:
        try:
            text = read_file(target.pristine(), test.path).decode(errors="replace")
        except FileProblem as problem:
            return False, f"{test.path} readable", str(problem)
        missing = go_missing(test.expectedContents, text)
        excluded = go_present(test.excludedContents, text)
        expected = f"matches {list(test.expectedContents)}, not {list(test.excludedContents)}"
        got = f"missing {missing}, excluded present {excluded}" if missing or excluded else "as expected"
        return not missing and not excluded, expected, got

    return timed("fileContentTests", test.name, check)
