"""commandTests, as CST runs them: each in a new container of the image (ENTRYPOINT cleared, the command
and args as CMD, ``$VAR`` expanded against the image's environment), after its ``setup`` commands were
run and committed; or, ours, ``exec: true``, by docker exec in the container running CMD. With a time
limit and bounded output."""

from __future__ import annotations

import contextlib
import time

import requests
from docker.errors import DockerException
from docker.models.containers import Container
from docker.types import LogConfig

from rootfs_ci.records import CheckResult
from rootfs_ci.smoke import golang
from rootfs_ci.smoke import spec as s
from rootfs_ci.smoke.capture import Captured, raw_socket, read_multiplexed
from rootfs_ci.smoke.checks import Outcome, Target, go_missing, go_present, timed

NO_LOGS = LogConfig(type=LogConfig.types.NONE)  # a new container's output is read attached, not logged


def _exec(target: Target, argv: list[str], env: dict[str, str], deadline: float) -> tuple[Captured, int | None]:
    api = target.containers.client.api
    created = api.exec_create(target.running().id, argv, environment=env)
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


def _create(target: Target, image: str, argv: list[str], env: dict[str, str]) -> Container:
    return target.containers.create(
        image, entrypoint=[""], command=argv, environment=env, log_config=NO_LOGS, **target.run_options
    )


def _run(
    target: Target, image: str, argv: list[str], env: dict[str, str], deadline: float
) -> tuple[Captured, int | None]:
    """The command in a new container, removed afterwards (its image may be a setup commit to remove)."""
    container = _create(target, image, argv, env)
    try:
        return _attached(target, container, deadline)
    finally:
        with contextlib.suppress(DockerException):
            container.remove(force=True)


def _attached(target: Target, container: Container, deadline: float) -> tuple[Captured, int | None]:
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
    return captured, None


def _setup(target: Target, commands: tuple[tuple[str, ...], ...], env: dict[str, str], deadline: float) -> list[str]:
    """Run each setup command (its exit code is not checked, as in CST) and commit the result; the
    images made, the last one to run the test in. A command that cannot start fails the check."""
    images: list[str] = []
    try:
        for command in commands:
            container = _create(target, images[-1] if images else target.reference, list(command), env)
            try:
                container.start()
                container.wait(timeout=max(deadline - time.monotonic(), 0.1))
                images.append(container.commit().id)
            finally:
                with contextlib.suppress(DockerException):
                    container.remove(force=True)
    except BaseException:
        _remove_images(target, images)
        raise
    return images


def _remove_images(target: Target, images: list[str]) -> None:
    for image in reversed(images):
        with contextlib.suppress(DockerException):
            target.containers.client.images.remove(image, force=True, noprune=False)


def _environments(test: s.CommandTest, target: Target) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(the command's env, setup's env, the env its ``$VAR``s expand against), as CST makes them: the test's
    envVars are given as written to the command, but expanded for setup, whose commits bring them into
    the image the command's args are expanded against."""
    base = target.env()
    literal = {var.key: var.value for var in test.envVars}
    expanded = {var.key: golang.expand_env(var.value, base) for var in test.envVars}
    return base | literal, base | expanded, base | expanded if test.setup else base


def _command(test: s.CommandTest, target: Target, deadline: float) -> tuple[Captured, int | None]:
    env, setup_env, expand_against = _environments(test, target)
    argv = [golang.expand_env(arg, expand_against) for arg in (test.command, *test.args)]
    if test.exec:
        return _exec(target, argv, env, deadline)
    images = _setup(target, test.setup, setup_env, deadline)
    try:
        return _run(target, images[-1] if images else target.reference, argv, env, deadline)
    finally:
        _remove_images(target, images)


def _problems(test: s.CommandTest, captured: Captured, exit_code: int | None) -> list[str]:
    if captured.timed_out:
        where = " (it may still run in the container until the smoke run removes it)" if test.exec else ""
        return [f"timed out after {test.timeoutSeconds:g}s{where}; make it finish or raise timeoutSeconds"]
    streams = (("stdout", captured.stdout), ("stderr", captured.stderr))
    problems = [tail.describe(label) for label, tail in streams if tail.overflowed]
    if exit_code != test.exitCode:
        problems.append(f"exit code {exit_code}")
    stdout, stderr = captured.stdout.text(), captured.stderr.text()
    for label, patterns, text in (("stdout", test.expectedOutput, stdout), ("stderr", test.expectedError, stderr)):
        problems += [f"{label} lacks /{p}/" for p in go_missing(patterns, text)]
    for label, patterns, text in (("stdout", test.excludedOutput, stdout), ("stderr", test.excludedError, stderr)):
        problems += [f"{label} has /{p}/" for p in go_present(patterns, text)]
    return problems


def command_check(test: s.CommandTest, target: Target) -> CheckResult:
    def check() -> Outcome:
        deadline = time.monotonic() + test.timeoutSeconds
        captured, exit_code = _command(test, target, deadline)
        problems = _problems(test, captured, exit_code)
        expected = f"exit {test.exitCode} within {test.timeoutSeconds:g}s, stdout {list(test.expectedOutput)}"
        stdout, stderr = captured.stdout.text().strip()[-200:], captured.stderr.text().strip()[-200:]
        got = "; ".join(problems) + f" [stdout ends: {stdout!r}, stderr ends: {stderr!r}]"
        return not problems, expected, got

    return timed("commandTests", test.name, check)
