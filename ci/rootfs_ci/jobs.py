"""Bounded parallel jobs in child processes: one progress line per job as it ends, a summary table.

Each child runs in its own session with its output in a log file, so jobs never interleave on the
terminal; Ctrl-C or SIGTERM reaches this process, which passes SIGINT on to the running children and
waits for their own cleanup (containers, temp files) before it gives up too.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TextIO

from rootfs_ci.signals import signals_deferred

POLL_SECONDS = 0.05
CHILD_CLEANUP_SECONDS = 60.0  # how long an interrupted child gets to remove what it made


@dataclass(frozen=True)
class Job:
    name: str
    command: list[str]
    stdin: str
    log: Path


@dataclass(frozen=True)
class Finished:
    job: Job
    exit_code: int
    seconds: float

    @property
    def passed(self) -> bool:
        return self.exit_code == 0


@dataclass
class _Running:
    job: Job
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    started: float


def _start(job: Job) -> _Running:
    job.log.parent.mkdir(parents=True, exist_ok=True)
    log = job.log.open("wb")
    process = subprocess.Popen(
        job.command, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    assert process.stdin is not None
    with contextlib.suppress(BrokenPipeError):
        process.stdin.write(job.stdin.encode())
    process.stdin.close()
    return _Running(job, process, log, time.monotonic())


def _stop(running: Sequence[_Running]) -> None:
    """Interrupt the children, wait for their cleanup; kill only those that do not finish in time."""
    with signals_deferred():
        for child in running:
            child.process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + CHILD_CLEANUP_SECONDS
        for child in running:
            try:
                child.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
            child.log.close()


def run_jobs(jobs: Sequence[Job], parallel: int, on_finished: Callable[[Finished, int], None]) -> list[Finished]:
    """Run ``jobs``, at most ``parallel`` at once, in order of the list; their results in that order.
    ``on_finished(result, how_many_done)`` is called as each one ends."""
    waiting = list(jobs)
    running: list[_Running] = []
    finished: dict[str, Finished] = {}
    try:
        while waiting or running:
            while waiting and len(running) < parallel:
                with signals_deferred():  # a child started is a child tracked
                    running.append(_start(waiting.pop(0)))
            for child in [child for child in running if child.process.poll() is not None]:
                running.remove(child)
                child.log.close()
                result = Finished(child.job, child.process.returncode, time.monotonic() - child.started)
                finished[child.job.name] = result
                on_finished(result, len(finished))
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        _stop(running)
        raise
    return [finished[job.name] for job in jobs]


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]], stream: TextIO) -> None:
    """Plain columns, each as wide as its widest cell; the last column is left unpadded."""
    widths = [max(len(row[index]) for row in [header, *rows]) for index in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)] + [row[-1]]
        print("  ".join(cells).rstrip(), file=stream, flush=True)
