"""commandTests: a command run in the container running CMD (docker exec) or in a fresh container
whose command overrides CMD (``fresh``, CST's way) -- with a time limit and bounded output."""

from __future__ import annotations

import contextlib
import time

import requests
from docker.errors import DockerException
from docker.models.containers import Container
from docker.types import LogConfig

from rootfs_ci.records import CheckResult
from rootfs_ci.smoke import spec as s
from rootfs_ci.smoke.capture import Captured, raw_socket, read_multiplexed
from rootfs_ci.smoke.checks import Outcome, Target, matches_all, matches_any, timed

NO_LOGS = LogConfig(type=LogConfig.types.NONE)  # a fresh container's output is read attached, not logged


def _exec(target: Target, test: s.CommandTest, deadline: float) -> tuple[Captured, int | None]:
    api = target.containers.client.api
    environment = {variable.key: variable.value for variable in test.envVars}
    created = api.exec_create(target.running().id, [test.command, *test.args], environment=environment)
    sock = raw_socket(api.exec_start(created["Id"], socket=True))
    try:
        captured = read_multiplexed(sock, deadline)
    finally:
        sock.close()
    while not captured.timed_out:  # the output can end before the command does
        state = api.exec_inspect(created["Id"])
        if not state.get("Running"):
            return captured, state.get("ExitCode")
        captured.timed_out = time.monotonic() > deadline
        time.sleep(0.05)
    return captured, None


def _fresh(target: Target, test: s.CommandTest, deadline: float) -> tuple[Captured, int | None]:
    container: Container = target.containers.create(
        target.reference,
        command=[test.command, *test.args],
        environment={variable.key: variable.value for variable in test.envVars},
        log_config=NO_LOGS,
        **target.run_options,
    )
    attached = target.containers.client.api.attach_socket(container.id, params={"stdout": 1, "stderr": 1, "stream": 1})
    sock = raw_socket(attached)
    try:
        container.start()
        captured = read_multiplexed(sock, deadline)
    finally:
        sock.close()
    if not captured.timed_out:  # the output can end before the command does
        try:
            return captured, int(container.wait(timeout=max(deadline - time.monotonic(), 0.1))["StatusCode"])
        except requests.RequestException:
            captured.timed_out = True
    with contextlib.suppress(DockerException):
        container.kill()
    return captured, None


def _problems(test: s.CommandTest, captured: Captured, exit_code: int | None) -> list[str]:
    if captured.timed_out:
        where = "" if test.fresh else " (it may still run in the container until the smoke run removes it)"
        return [f"timed out after {test.timeoutSeconds:g}s{where}; make it finish or raise timeoutSeconds"]
    streams = (("stdout", captured.stdout), ("stderr", captured.stderr))
    problems = [tail.describe(label) for label, tail in streams if tail.overflowed]
    if exit_code != test.exitCode:
        problems.append(f"exit code {exit_code}")
    stdout, stderr = captured.stdout.text(), captured.stderr.text()
    for label, patterns, text in (("stdout", test.expectedOutput, stdout), ("stderr", test.expectedError, stderr)):
        problems += [f"{label} lacks /{p}/" for p in matches_all(patterns, text)]
    for label, patterns, text in (("stdout", test.excludedOutput, stdout), ("stderr", test.excludedError, stderr)):
        problems += [f"{label} has /{p}/" for p in matches_any(patterns, text)]
    return problems


def command_check(test: s.CommandTest, target: Target) -> CheckResult:
    def check() -> Outcome:
        deadline = time.monotonic() + test.timeoutSeconds
        captured, exit_code = (_fresh if test.fresh else _exec)(target, test, deadline)
        problems = _problems(test, captured, exit_code)
        expected = f"exit {test.exitCode} within {test.timeoutSeconds:g}s, stdout {list(test.expectedOutput)}"
        stdout, stderr = captured.stdout.text().strip()[-200:], captured.stderr.text().strip()[-200:]
        got = "; ".join(problems) + f" [stdout ends: {stdout!r}, stderr ends: {stderr!r}]"
        return not problems, expected, got

    return timed("commandTests", test.name, check)
