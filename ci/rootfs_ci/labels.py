"""Labels on everything rootfs-ci creates in the engine, so leftovers of crashed runs can be found."""

from __future__ import annotations

import os
import socket

RUN = "org.rootfs-ci.run"
PID = "org.rootfs-ci.pid"
HOST = "org.rootfs-ci.host"


def run_labels(run_id: str) -> dict[str, str]:
    return {RUN: run_id, PID: str(os.getpid()), HOST: socket.gethostname()}


def owner_alive(labels: dict[str, str]) -> bool:
    """True when the labels name a process on this host that still runs (its resources are in use)."""
    if labels.get(HOST) != socket.gethostname():
        return False
    try:
        os.kill(int(labels.get(PID, "0")), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return int(labels.get(PID, "0")) > 0
