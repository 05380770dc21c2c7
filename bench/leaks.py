"""Leak check: many pipeline runs that pass, fail or are interrupted leave no container or image.

    .venv/bin/python bench/leaks.py [--runs 50]

Builds apacheinit twice in a throwaway project (as is, and with a start.sh that exits at once),
then cycles through: a full pipeline that passes, a smoke run that fails, and smoke runs
interrupted by SIGINT or SIGTERM at a random moment. Afterwards it counts the containers that
carry rootfs-ci's labels and the images that were not there before. Prints the figures.
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import docker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import copy_project


def project(path: Path, broken: bool) -> Path:
    copy_project(path)
    if broken:
        (path / "overlay/bin/start.sh").write_text("#!/bin/sh\nexit 3\n")
    return path


def invoke(cwd: Path, *args: str, interrupt: signal.Signals | None = None) -> int:
    process = subprocess.Popen(
        [sys.executable, "-m", "invoke", *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    if interrupt is not None:
        time.sleep(random.uniform(0.5, 3.0))  # noqa: S311 (timing jitter, not security)
        process.send_signal(interrupt)
    return process.wait(timeout=300)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    client = docker.from_env()
    images_before = {image.id for image in client.images.list(all=True)}
    tag = f"leaks-{random.randrange(16**6):06x}"  # noqa: S311
    outcomes: Counter[str] = Counter()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rootfs-ci-leaks-") as tmp:
        good = project(Path(tmp) / "good", broken=False)
        bad = project(Path(tmp) / "bad", broken=True)
        for where in (good, bad):
            assert invoke(where, "build") == 0 and invoke(where, "image", "--tag", f"{tag}-{where.name}") == 0
        kinds = ["pass", "fail", "SIGINT", "SIGTERM"]
        for run in range(args.runs):
            kind = kinds[run % len(kinds)]
            if kind == "pass":
                code = invoke(good, "pipeline", "--tag", f"{tag}-good")
            elif kind == "fail":
                code = invoke(bad, "smoke", "--tag", f"{tag}-bad")
            else:
                code = invoke(good, "smoke", "--tag", f"{tag}-good", interrupt=getattr(signal, kind))
            outcomes[f"{kind} -> exit {code}"] += 1
            print(f"run {run + 1}/{args.runs}: {kind} -> exit {code}", file=sys.stderr)
    for name in (f"apacheinit:{tag}-good", f"apacheinit:{tag}-bad"):
        client.images.remove(name, force=True)
    leaked_containers = client.containers.list(all=True, sparse=True, filters={"label": "org.rootfs-ci.run"})
    new_images = [image for image in client.images.list(all=True) if image.id not in images_before]
    print(
        f"{args.runs} runs in {time.monotonic() - started:.0f} s: "
        + ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items()))
    )
    print(f"leaked containers (label org.rootfs-ci.run): {len(leaked_containers)}")
    print(f"images left that were not there before: {len(new_images)}")
    if leaked_containers or new_images:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
