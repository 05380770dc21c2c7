"""Run external tools so that an interrupt also stops everything they started."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path


def run_tool(args: Sequence[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Like subprocess.run(capture_output=True, text=True), but the tool gets its own process
    group, and on any interruption the whole group is killed and reaped before we go on (apt's
    download methods, make's children), so no orphan keeps writing into a dir being cleaned up."""
    with subprocess.Popen(
        list(args), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    ) as process:
        try:
            stdout, stderr = process.communicate()
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise
    return subprocess.CompletedProcess(list(args), process.returncode, stdout, stderr)
