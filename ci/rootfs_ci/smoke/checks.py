"""The checks of a smoke spec. Each returns CheckResults; a check that crashes fails, it never aborts the run."""

from __future__ import annotations

import io
import os
import re
import select
import socket
import stat
import tarfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from docker.errors import NotFound
from docker.models.containers import Container
from docker.models.images import Image

from rootfs_ci.arch import EMULATOR_PREFIXES
from rootfs_ci.records import CheckResult
from rootfs_ci.smoke import spec as s
from rootfs_ci.smoke.capture import OUTPUT_LIMIT, Tail, read_chunks
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


def _archive_member(container: Container, path: str) -> tuple[tarfile.TarInfo, bytes] | None:
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
        found = _archive_member(target.running(), test.path)
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
        found = _archive_member(target.running(), test.path)
        if found is None:
            return False, f"{test.path} present", "absent"
        text = found[1].decode(errors="replace")
        missing = matches_all(test.expectedContents, text)
        excluded = matches_any(test.excludedContents, text)
        expected = f"matches {list(test.expectedContents)}, not {list(test.excludedContents)}"
        got = f"missing {missing}, excluded present {excluded}" if missing or excluded else "as expected"
        return not missing and not excluded, expected, got

    return timed("fileContentTests", test.name, check)


# ---- the running CMD --------------------------------------------------------------------------


@dataclass(frozen=True)
class Process:
    pid: int
    ppid: int
    uid: int
    args: str


def without_emulator(args: str) -> str:
    """The command line as the program sees it: under qemu-user through binfmt_misc the host shows
    'INTERPRETER FILENAME ARGV0 ARGV1...' (P flag) or 'INTERPRETER FILENAME ARGV1...'."""
    tokens = args.split(" ")
    if len(tokens) < 2 or not Path(tokens[0]).name.startswith(EMULATOR_PREFIXES):
        return args
    tokens = tokens[1:]
    if len(tokens) > 1 and tokens[0] == tokens[1]:
        tokens = tokens[1:]
    return " ".join(tokens)


def processes(container: Container) -> list[Process]:
    """Processes of the container, read by the engine on the host (no ps needed in the image)."""
    top = container.top(ps_args="-eo pid,ppid,uid,args")
    return [Process(int(row[0]), int(row[1]), int(row[2]), without_emulator(row[3])) for row in top["Processes"]]


def pid1(container: Container) -> Process:
    listed = processes(container)
    pids = {process.pid for process in listed}
    return next(process for process in listed if process.ppid not in pids)


def pid1_check(test: s.Pid1Check, target: Target) -> CheckResult:
    def check() -> Outcome:
        got = pid1(target.running()).args
        return re.search(test.command, got) is not None, f"/{test.command}/", got

    return timed("pid1", "command of PID 1", check)


def _passwd_uids(container: Container) -> dict[str, int]:
    found = _archive_member(container, "/etc/passwd")
    uids = {}
    for line in (found[1].decode(errors="replace") if found else "").splitlines():
        fields = line.split(":")
        if len(fields) > 2 and fields[2].isdigit():
            uids[fields[0]] = int(fields[2])
    return uids


def process_check(test: s.ProcessCheck, target: Target) -> CheckResult:
    def check() -> Outcome:
        container = target.running()
        listed = processes(container)
        parents = {p.pid: p.args for p in listed}
        matches = [
            p
            for p in listed
            if re.search(test.command, p.args)
            and (test.parentCommand is None or re.search(test.parentCommand, parents.get(p.ppid, "")))
        ]
        problems = []
        if len(matches) < test.minCount or (test.maxCount is not None and len(matches) > test.maxCount):
            problems.append(f"{len(matches)} processes match")
        if test.user is not None:
            uid = _passwd_uids(container).get(test.user)
            wrong = [p for p in matches if p.uid != uid]
            if uid is None or wrong:
                problems.append(f"not all run as {test.user} (uid {uid}): {[(p.uid, p.args) for p in wrong]}")
        if test.notRoot and any(p.uid == 0 for p in matches):
            problems.append(f"runs as root: {[p.args for p in matches if p.uid == 0]}")
        maximum = "" if test.maxCount is None else f"..{test.maxCount}"
        expected = f"{test.minCount}{maximum} processes /{test.command}/" + (f" as {test.user}" if test.user else "")
        got = "; ".join(problems) or f"{len(matches)}: " + ", ".join(f"uid {p.uid} {p.args}" for p in matches)
        return not problems, expected, got

    return timed("processes", test.name, check)


def host_kernel_check(target: Target) -> CheckResult:
    def check() -> Outcome:
        result = target.running().exec_run(["uname", "-r"])
        got = result.output.decode(errors="replace").strip()
        return got == os.uname().release, os.uname().release, got

    return timed("hostKernel", "uname -r is the host's kernel", check)


def http_check(test: s.HttpCheck, target: Target) -> CheckResult:
    def check() -> Outcome:
        url = f"http://127.0.0.1:{target.host_port(test.port)}{test.path}"
        response = requests.get(url, timeout=5)
        problems = []
        if response.status_code != test.status:
            problems.append(f"status {response.status_code}")
        if test.body is not None and not re.search(test.body, response.text):
            problems.append(f"body lacks /{test.body}/: {response.text[:120]!r}")
        for header, pattern in test.headers.items():
            value = response.headers.get(header)
            if value is None or not re.search(pattern, value):
                problems.append(f"header {header}: {value!r}")
        expected = f"GET {test.path} -> {test.status}" + (f", body /{test.body}/" if test.body else "")
        return not problems, expected, "; ".join(problems) or f"{response.status_code} {response.text[:80]!r}"

    return timed("http", test.name, check)


def container_logs(target: Target, deadline: float, tail: int | None = None) -> Tail:
    """The last OUTPUT_LIMIT bytes of the CMD container's stdout+stderr (of its last ``tail`` lines)."""
    chunks = target.containers.client.api.logs(target.running().id, stream=True, follow=False, tail=tail or "all")
    return read_chunks(chunks, deadline)[0]


def log_check(test: s.LogCheck, target: Target) -> CheckResult:
    def check() -> Outcome:
        deadline = time.monotonic() + LOG_WAIT  # logs are written asynchronously by the engine
        while True:
            logs = container_logs(target, deadline + LOG_WAIT)
            missing = matches_all(test.expected, logs.text())
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        searched = f" in the last {logs.limit} of {logs.total} bytes" if logs.overflowed else ""
        return not missing, f"logs match {list(test.expected)}", f"missing {missing}{searched}" if missing else "found"

    return timed("logs", test.name, check)


def interactive_check(test: s.InteractiveCheck, target: Target, client: Any) -> CheckResult:
    """Type into a TTY attached to a fresh container running CMD, as `docker run -it` does."""

    def check() -> Outcome:
        container = target.containers.create(target.reference, tty=True, stdin_open=True, **target.run_options)
        sock = client.api.attach_socket(container.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
        raw: socket.socket = sock._sock
        try:
            container.start()
            raw.sendall(test.input.encode())  # the TTY holds it until the shell reads
            output = Tail()
            deadline = time.monotonic() + test.timeoutSeconds
            while matches_all(test.expectedOutput, output.text()) and time.monotonic() < deadline:
                output.add(_read_for(raw, 0.2))
        finally:
            raw.close()
        missing = matches_all(test.expectedOutput, output.text())
        return not missing, f"TTY output matches {list(test.expectedOutput)}", output.text()[-300:]

    return timed("interactive", test.name, check)


def _read_for(raw: socket.socket, seconds: float) -> bytes:
    data = b""
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([raw], [], [], remaining)
        if not ready:
            break
        chunk = raw.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > OUTPUT_LIMIT:
            break
    return data


def engine_time(stamp: str) -> float:
    """Seconds since the epoch of an engine timestamp (RFC 3339 with nanoseconds)."""
    whole, _, fraction = stamp.rstrip("Z").partition(".")
    seconds = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    return seconds + float(f"0.{fraction or 0}")


def stop_check(test: s.StopCheck, target: Target) -> CheckResult:
    """``docker stop``: the container must exit within maxSeconds of the request, by itself (not killed).

    The time is the request to the container's exit as the engine records it (State.FinishedAt), so
    the engine's own teardown after the exit does not count; the wall time of the call is shown too."""

    def check() -> Outcome:
        container = target.running()
        requested, started = time.time(), time.monotonic()
        container.stop(timeout=max(10, int(test.maxSeconds) + 1))
        wall = time.monotonic() - started
        container.reload()
        state = container.attrs["State"]
        exited = engine_time(state["FinishedAt"]) - requested
        exit_code = state["ExitCode"]
        passed = exited <= test.maxSeconds and (test.exitCode is None or exit_code == test.exitCode)
        expected = f"exits within {test.maxSeconds:.2f}s" + ("" if test.exitCode is None else f", exit {test.exitCode}")
        return passed, expected, f"exited after {exited:.2f}s (docker stop took {wall:.2f}s), exit {exit_code}"

    return timed("stop", "graceful docker stop", check)
