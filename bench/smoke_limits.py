"""Wall time and peak memory of smoke runs against checks without limits of their own.

    .venv/bin/python bench/smoke_limits.py [--bytes 1073741824] [--give-up 600]

Builds testrfs in a throwaway project, then runs one smoke spec per case: a command check
printing BYTES (by exec, and in a fresh container), the CMD printing BYTES into the container
log with a log check, and a command that never exits (exec and fresh, timeoutSeconds 5). Each run
is measured from the outside (wall time; peak RSS of the invoke process from wait4). A run still
going after --give-up seconds is interrupted (SIGINT) and reported as such.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import docker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import copy_project


def flood(size: int) -> str:
    return f"yes 0123456789abcdef | head -c {size}; echo; echo the-end"


def specs(size: int, timeouts: bool) -> dict[str, dict[str, Any]]:
    printing = {"command": "sh", "args": ["-c", flood(size)], "expectedOutput": ["the-end"], "timeoutSeconds": 600}
    hang = {"command": "sleep", "args": ["100000"], "timeoutSeconds": 5}
    waited = "while ! [ -e /tmp/flooded ]; do sleep 0.1; done"
    if not timeouts:  # the code before timeoutSeconds existed refuses the key
        del printing["timeoutSeconds"], hang["timeoutSeconds"]
    return {
        "exec check printing": {"commandTests": [{"name": "flood", **printing}]},
        "fresh check printing": {"commandTests": [{"name": "flood", "fresh": True, **printing}]},
        "CMD printing, log check": {
            "commandTests": [{"name": "wait", "command": "sh", "args": ["-c", waited], **printing_limit(timeouts)}],
            "logs": [{"name": "last line", "expected": ["the-end"]}],
        },
        "exec check never exiting": {"commandTests": [{"name": "hang", **hang}]},
        "fresh check never exiting": {"commandTests": [{"name": "hang", "fresh": True, **hang}]},
    }


def printing_limit(timeouts: bool) -> dict[str, Any]:
    return {"timeoutSeconds": 600} if timeouts else {}


def measure(project: Path, tag: str, spec: Path, give_up: float) -> dict[str, Any]:
    args = [sys.executable, "-m", "invoke", "smoke", "--image", "testrfs", "--tag", tag, "--spec", str(spec)]
    started = time.monotonic()
    process = subprocess.Popen(args, cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    interrupted = False
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - started > give_up and not interrupted:
            process.send_signal(signal.SIGINT)
            interrupted = True
        time.sleep(0.05)
    return {
        "seconds": round(time.monotonic() - started, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "exit": os.waitstatus_to_exitcode(status),
        "interrupted_after_give_up": interrupted,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bytes", type=int, default=1 << 30)
    parser.add_argument("--give-up", type=float, default=600)
    parser.add_argument("--without-timeouts", action="store_true", help="for the code before timeoutSeconds")
    args = parser.parse_args()
    client = docker.from_env()
    tag = f"limits-{uuid.uuid4().hex[:8]}"
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="rootfs-ci-limits-") as tmp:
        project = copy_project(Path(tmp) / "project")
        for stage in (["build", "--image", "testrfs"], ["image", "--image", "testrfs", "--tag", tag]):
            subprocess.run([sys.executable, "-m", "invoke", *stage], cwd=project, check=True, capture_output=True)
        base = client.containers.create(f"testrfs:{tag}")
        command = json.dumps(["/bin/sh", "-c", f"{flood(args.bytes)}; touch /tmp/flooded; exec sleep 100000"])
        base.commit("testrfs", f"{tag}-log", changes=[f"CMD {command}"])
        base.remove(force=True)
        try:
            for name, body in specs(args.bytes, not args.without_timeouts).items():
                spec = Path(tmp) / "spec.yaml"
                spec.write_text(json.dumps({"schemaVersion": "2.0.0", "container": {"stdinOpen": True}, **body}))
                image_tag = f"{tag}-log" if "log" in name else tag
                results[name] = measure(project, image_tag, spec, args.give_up)
                print(f"{name:28} {results[name]}", flush=True)
        finally:
            for image in (f"testrfs:{tag}", f"testrfs:{tag}-log"):
                client.images.remove(image, force=True)
    print(json.dumps({"bytes": args.bytes, "results": results}, indent=2))


if __name__ == "__main__":
    main()
