"""The smoke checks on the running CMD: PID 1, processes, HTTP, logs, an interactive TTY, docker stop."""

from __future__ import annotations

import os
import re
import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import requests
from docker.models.containers import Container

from rootfs_ci.arch import EMULATOR_PREFIXES
from rootfs_ci.records import CheckResult
from rootfs_ci.smoke import spec as s
from rootfs_ci.smoke.capture import OUTPUT_LIMIT, Tail, read_chunks
from rootfs_ci.smoke.checks import LOG_WAIT, FileProblem, Outcome, Target, matches_all, read_file, timed


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
    try:
        passwd = read_file(container, "/etc/passwd").decode(errors="replace")
    except FileProblem:
        passwd = ""
    uids = {}
    for line in passwd.splitlines():
        fields = line.split(":")
        if len(fields) > 2 and fields[2].isdigit():
            uids[fields[0]] = int(fields[2])
    return uids


def _until_passed(attempt: Callable[[], Outcome], deadline: float) -> Outcome:
    """``attempt`` again every 0.1 s until it passes or ``deadline`` is past; its last outcome (what
    the container shows settles after it is ready: its workers, the engine's copy of its logs)."""
    while True:
        outcome = attempt()
        if outcome[0] or time.monotonic() > deadline:
            return outcome
        time.sleep(0.1)


def process_check(test: s.ProcessCheck, target: Target) -> CheckResult:
    """The process table matches, or comes to match within timeoutSeconds."""

    def check() -> Outcome:
        return _until_passed(partial(_match_processes, test, target), time.monotonic() + test.timeoutSeconds)

    return timed("processes", test.name, check)


def _match_processes(test: s.ProcessCheck, target: Target) -> Outcome:
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
        deadline = time.monotonic() + test.timeoutSeconds  # logs are written asynchronously by the engine

        def attempt() -> Outcome:
            logs = container_logs(target, deadline + LOG_WAIT)
            missing = matches_all(test.expected, logs.text())
            searched = f" in the last {logs.limit} of {logs.total} bytes" if logs.overflowed else ""
            expected = f"logs match {list(test.expected)}"
            return not missing, expected, f"missing {missing}{searched}" if missing else "found"

        return _until_passed(attempt, deadline)

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
            ended = False
            while not ended and matches_all(test.expectedOutput, output.text()) and time.monotonic() < deadline:
                data, ended = _read_for(raw, 0.2)
                output.add(data)
        finally:
            raw.close()
        missing = matches_all(test.expectedOutput, output.text())
        return not missing, f"TTY output matches {list(test.expectedOutput)}", output.text()[-300:]

    return timed("interactive", test.name, check)


def _read_for(raw: socket.socket, seconds: float) -> tuple[bytes, bool]:
    """What arrives within ``seconds``, and whether the stream ended (the container is gone)."""
    data = b""
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([raw], [], [], remaining)
        if not ready:
            break
        chunk = raw.recv(65536)
        if not chunk:
            return data, True
        data += chunk
        if len(data) > OUTPUT_LIMIT:
            break
    return data, False


def engine_time(stamp: str) -> float:
    """Seconds since the epoch of an engine timestamp (RFC 3339 with nanoseconds)."""
    whole, _, fraction = stamp.rstrip("Z").partition(".")
    seconds = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    return seconds + float(f"0.{fraction or 0}")


def stop_signal_time(container: Container, state: dict[str, Any]) -> float | None:
    """When the engine signalled ``container`` to stop (its first kill event while it ran), on the
    engine's clock; None when the engine's event log (a few hundred events) no longer holds it."""
    window = {
        "since": f"{engine_time(state['StartedAt']):.9f}",
        "until": f"{engine_time(state['FinishedAt']):.9f}",  # in the past: the call returns at once
        "filters": {"container": container.id, "event": "kill"},
    }
    events = container.client.events(decode=True, **window)
    try:
        stamps = [event["timeNano"] / 1e9 for event in events]
    finally:
        events.close()
    return min(stamps, default=None)


def stop_check(test: s.StopCheck, target: Target) -> CheckResult:
    """``docker stop``: the container must exit within maxSeconds of the stop signal, by itself (not
    killed), as docker stop's own timeout counts.

    Both ends are the engine's clock: its kill event and the exit it records (State.FinishedAt), so
    neither the API round trip, nor the engine's teardown after the exit, nor a remote engine's clock
    skew counts; the wall time of the call is shown too. Should the engine's event log have dropped
    the kill event, the time of the request (this host's clock) stands in for it."""

    def check() -> Outcome:
        container = target.running()
        requested, started = time.time(), time.monotonic()
        container.stop(timeout=max(10, int(test.maxSeconds) + 1))
        wall = time.monotonic() - started
        container.reload()
        state = container.attrs["State"]
        signalled = stop_signal_time(container, state)
        exited = engine_time(state["FinishedAt"]) - (requested if signalled is None else signalled)
        since = "the request" if signalled is None else "the stop signal"
        exit_code = state["ExitCode"]
        passed = exited <= test.maxSeconds and (test.exitCode is None or exit_code == test.exitCode)
        expected = f"exits within {test.maxSeconds:.2f}s" + ("" if test.exitCode is None else f", exit {test.exitCode}")
        return passed, expected, f"exited {exited:.2f}s after {since} (docker stop took {wall:.2f}s), exit {exit_code}"

    return timed("stop", "graceful docker stop", check)
