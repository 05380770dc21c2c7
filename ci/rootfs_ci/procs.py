"""Run external tools so that an interrupt also stops everything they started."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from rootfs_ci.signals import STOP_SIGNALS, signals_deferred


def _unblock_stop_signals() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def run_tool(args: Sequence[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Like subprocess.run(capture_output=True, text=True), but the tool gets its own process
    group, and on any interruption the whole group is killed and reaped before we go on (apt's
    download methods, make's children), so no orphan keeps writing into a dir being cleaned up."""
    process: subprocess.Popen[str] | None = None
    try:
        with signals_deferred():  # the child is ours (and killable) before any interrupt lands
            process = subprocess.Popen(
                list(args),
                cwd=cwd,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
                preexec_fn=_unblock_stop_signals,  # noqa: PLW1509 (single-threaded CLI; only resets the mask)
            )
        stdout, stderr = process.communicate()
    except BaseException:
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
        raise
    return subprocess.CompletedProcess(list(args), process.returncode, stdout, stderr)
