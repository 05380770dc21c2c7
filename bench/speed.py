"""Issue #18's figures, side by side in one run: smoke, warm pipeline, start-up, pipeline --all.

    .venv/bin/python bench/speed.py [--runs 3]      (invoke bench runs it too, via bench/run.py)

Every figure is a median of wall times of the CLI as a user runs it (``python -m invoke ...``), in a
throwaway copy of this project whose caches were warmed first. BEFORE holds the figures this
repository measured before the work (docs/benchmarks.md, idle machine); GOALS are the issue's.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.helpers import copy_project  # noqa: E402

ALL_JOBS = (("apacheinit", "x86_64"), ("apacheinit", "aarch64"), ("testrfs", "x86_64"), ("testrfs", "aarch64"))
BEFORE = {
    "smoke apacheinit (27 checks), s": 3.4,
    "warm invoke pipeline, s": 6.0,
    "invoke --list, s": 0.34,
    "invoke image (CLI) / recipe": 1.8,
    "pipeline --all / sum of the runs alone": None,
}
GOALS = {
    "smoke apacheinit (27 checks), s": 1.5,
    "warm invoke pipeline, s": 3.0,
    "invoke --list, s": 0.20,
    "invoke image (CLI) / recipe": 1.0,
    "pipeline --all / sum of the runs alone": 0.6,
}


FAILED_RUNS: list[str] = []  # runs whose exit status was not 0: counted and shown, not hidden


def wall(project: Path, *args: str) -> float:
    """Wall time of one CLI run. A failing run (on a busy machine, e.g. a smoke run whose docker stop
    took longer than the spec's 1 s) still counts with its time, and is listed with its error line."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "invoke", *args], cwd=project, capture_output=True, text=True, check=False
    )
    seconds = time.monotonic() - started
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        FAILED_RUNS.append(f"invoke {' '.join(args)}: exit {result.returncode}: {last}")
        print(f"[bench] warning: {FAILED_RUNS[-1]}", file=sys.stderr)
    return seconds


def median_of(runs: int, project: Path, *args: str) -> float:
    return statistics.median(wall(project, *args) for _ in range(runs))


def figures(project: Path, runs: int, tag: str) -> dict[str, float]:
    """Everything but the image ratio, whose recipe half bench/run.py measures with its baselines."""
    wall(project, "pipeline", "--tag", tag)  # warm the caches
    result = {
        "invoke --list, s": median_of(max(runs, 10), project, "--list"),
        "smoke apacheinit (27 checks), s": median_of(runs, project, "smoke", "--tag", tag),
        "warm invoke pipeline, s": median_of(runs, project, "pipeline", "--tag", tag),
        "invoke image (CLI), s": median_of(runs, project, "image", "--tag", tag),
    }
    for image, arch in ALL_JOBS:  # warm every job once
        wall(project, "pipeline", "--image", image, "--arch", arch, "--tag", tag)
    alone, together = [], []
    for _ in range(runs):
        alone.append(sum(wall(project, "pipeline", "--image", i, "--arch", a, "--tag", tag) for i, a in ALL_JOBS))
        together.append(wall(project, "pipeline", "--all", "--tag", tag))
    result["pipeline --all, s"] = statistics.median(together)
    result["the four runs alone, summed, s"] = statistics.median(alone)
    ratios = [all_at_once / one_by_one for all_at_once, one_by_one in zip(together, alone, strict=True)]
    result["pipeline --all / sum of the runs alone"] = statistics.median(ratios)
    result["failed runs"] = len(FAILED_RUNS)
    return result


def remove_images(tag: str) -> None:
    for image, arch in ALL_JOBS:
        suffix = "" if arch == "x86_64" else f"-{arch}"
        subprocess.run(["docker", "rmi", "-f", f"{image}:{tag}{suffix}"], capture_output=True, check=False)


def measure(work: Path, runs: int) -> dict[str, float]:
    tag = f"bench-speed-{int(time.time())}"
    try:
        return figures(copy_project(work / "speed"), runs, tag)
    finally:
        remove_images(tag)


def print_table(measured: dict[str, Any], recipe_image_s: float | None = None) -> None:
    if recipe_image_s:
        measured["invoke image (CLI) / recipe"] = measured["invoke image (CLI), s"] / recipe_image_s
    print(f"\nissue #18, medians (s or ratio)\n  {'figure':<42}{'before':>8}{'now':>8}{'goal':>8}")
    for name, goal in GOALS.items():
        before = BEFORE[name]
        now = measured.get(name)
        shown_now = f"{now:>8.2f}" if now is not None else f"{'-':>8}"
        print(f"  {name:<42}{before if before is not None else '-':>8}{shown_now}{'<= ' + str(goal):>8}")
    for name in ("invoke image (CLI), s", "pipeline --all, s", "the four runs alone, summed, s"):
        print(f"  {name:<42}{'':>8}{measured[name]:>8.2f}")
    print(f"  runs that failed (their times count; see the warnings): {measured['failed runs']}")
    for failed in FAILED_RUNS:
        print(f"    {failed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rootfs-ci-bench-speed-") as tmp:
        measured = measure(Path(tmp), args.runs)
    print_table(measured)


if __name__ == "__main__":
    main()
