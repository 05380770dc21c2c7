"""Which smoke checks may run at the same time, and running them so.

Checks run on bounded worker threads, in waves, and come back in spec order, each with its own time:

- ``OWN_CONTAINER``: checks that start a container of their own (commandTests as CST runs them,
  interactive) touch nothing of the CMD's container; they start at once, while that container is
  getting ready.
- ``PROCESS_TABLE``: ``pid1`` and ``processes`` read the CMD's process table; they run before
  anything is executed in it, so the table they read is the CMD's own.
- ``INSPECT``: everything else that looks at the CMD or its image, at once: files and licenses (in
  a created container of the image), HTTP, and the commands run in the CMD's container (``exec:
  true`` commandTests, hostKernel).
- ``LOGS``: the log checks, which look for the lines the HTTP checks caused.

``docker stop`` changes the container for good: the runner runs it alone, after all of these.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from rootfs_ci.records import CheckResult
from rootfs_ci.smoke import checks, commands, licenses, runtime
from rootfs_ci.smoke.spec import Spec

WORKERS = 8  # checks at once: each is mostly waiting for the engine or the container


class Wave(enum.Enum):
    OWN_CONTAINER = "own container"
    PROCESS_TABLE = "process table"
    INSPECT = "inspect"
    LOGS = "logs"


@dataclass(frozen=True)
class Planned:
    position: int  # in spec order
    wave: Wave
    run: Callable[[], CheckResult]


def plan(spec: Spec, target: checks.Target, client: Any) -> list[Planned]:
    """The spec's checks on the running CMD, in the order the report shows them."""
    planned: list[Planned] = []

    def add(wave: Wave, run: Callable[[], CheckResult]) -> None:
        planned.append(Planned(len(planned), wave, run))

    for existence in spec.fileExistenceTests:
        add(Wave.INSPECT, partial(checks.file_existence_check, existence, target))
    for content in spec.fileContentTests:
        add(Wave.INSPECT, partial(checks.file_content_check, content, target))
    if spec.pid1:
        add(Wave.PROCESS_TABLE, partial(runtime.pid1_check, spec.pid1, target))
    if spec.hostKernel:
        add(Wave.INSPECT, partial(runtime.host_kernel_check, target))
    for process in spec.processes:
        add(Wave.PROCESS_TABLE, partial(runtime.process_check, process, target))
    for command in spec.commandTests:
        add(Wave.INSPECT if command.exec else Wave.OWN_CONTAINER, partial(commands.command_check, command, target))
    for index, license_test in enumerate(spec.licenseTests):
        add(Wave.INSPECT, partial(licenses.license_check, license_test, index, target))
    for http in spec.http:
        add(Wave.INSPECT, partial(runtime.http_check, http, target))
    for log in spec.logs:
        add(Wave.LOGS, partial(runtime.log_check, log, target))
    for interactive in spec.interactive:
        add(Wave.OWN_CONTAINER, partial(runtime.interactive_check, interactive, target, client))
    return planned


Started = list[tuple[int, "Future[CheckResult]"]]


def start(pool: ThreadPoolExecutor, planned: Iterable[Planned], wave: Wave) -> Started:
    return [(check.position, pool.submit(check.run)) for check in planned if check.wave is wave]


def finish(*started: Started) -> list[CheckResult]:
    """Wait for the started checks; their results in spec order."""
    done = sorted(((position, future.result()) for group in started for position, future in group), key=_first)
    return [result for _, result in done]


def _first(item: tuple[int, CheckResult]) -> int:
    return item[0]
