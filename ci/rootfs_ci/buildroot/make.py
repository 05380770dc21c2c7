"""Buildroot's make interface, out of tree: ``make O=OUT BR2_EXTERNAL=TREE target`` in the source dir."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rootfs_ci.buildroot.external import External
from rootfs_ci.errors import BackendError

# An outer make's flags would leak into Buildroot (which refuses a top-level -j).
INHERITED_MAKE_VARIABLES = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")
STOP_GRACE_SECONDS = 30


def _make() -> str:
    found = shutil.which("make")
    if found is None:
        raise BackendError(
            "make not found: Buildroot needs GNU make and a host toolchain (apt-get install build-essential)"
        )
    return found


@dataclass(frozen=True)
class Make:
    """One Buildroot source tree driven for one output directory."""

    source: Path
    output: Path
    external: External
    env: Mapping[str, str] = field(default_factory=dict)

    def command(self, *args: str) -> list[str]:
        return [_make(), f"O={self.output}", f"BR2_EXTERNAL={self.external.path}", *args]

    def environment(self) -> dict[str, str]:
        inherited = {key: value for key, value in os.environ.items() if key not in INHERITED_MAKE_VARIABLES}
        return {**inherited, **self.env}

    def run(self, *args: str) -> str:
        """Run a quick target (defconfig, show-info, savedefconfig); its stdout, or one-line BackendError."""
        self.output.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            self.command(*args),
            cwd=self.source,
            capture_output=True,
            text=True,
            errors="replace",
            env=self.environment(),
            check=False,
        )
        if result.returncode != 0:
            lines = [line.strip() for line in (result.stderr + result.stdout).splitlines() if line.strip()]
            reason = next((line for line in reversed(lines) if "***" in line or "rror" in line), "")
            reason = reason or (lines[-1] if lines else f"exit status {result.returncode}")
            raise BackendError(f"'make {' '.join(args)}' failed in {self.source}: {reason[:300]}")
        return result.stdout

    def interactive(self, *args: str) -> None:
        """Run a target on the user's terminal (menuconfig)."""
        self.output.mkdir(parents=True, exist_ok=True)
        returncode = subprocess.run(
            self.command(*args), cwd=self.source, env=self.environment(), check=False
        ).returncode
        if returncode != 0:
            raise BackendError(f"'make {' '.join(args)}' failed (exit status {returncode}); see its output above")

    def show_info(self) -> dict[str, Any]:
        """``make show-info``: every package of this configuration, as Buildroot describes it."""
        out = self.run("-s", "--no-print-directory", "show-info")
        for line in out.splitlines():
            if line.lstrip().startswith("{"):
                try:
                    info = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise BackendError(f"'make show-info' printed invalid JSON ({exc}); see {self.output}") from None
                if isinstance(info, dict):
                    return info
        raise BackendError(f"'make show-info' printed no JSON object (Buildroot in {self.source} too old?)")

    def stream(self, on_line: Callable[[str], None], *args: str) -> int:
        """Run a long target, handing each output line (stdout and stderr) to ``on_line``; its exit status."""
        self.output.mkdir(parents=True, exist_ok=True)
        with _process_group(self.command(*args), self.source, self.environment()) as process:
            assert process.stdout is not None
            for line in process.stdout:
                on_line(line.rstrip("\n"))
            return process.wait()


@contextlib.contextmanager
def _process_group(command: list[str], cwd: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """make and its compilers in their own process group, stopped together if we stop early."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if process.stdout is not None:
            process.stdout.close()
