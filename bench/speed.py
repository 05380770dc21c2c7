"""Issue #18's figures, side by side in one run: smoke, warm pipeline, start-up, pipeline --all.

    .venv/bin/python bench/speed.py [--runs 3] [--baseline REV]   (invoke bench runs it too)

Every figure is a median of wall times of the CLI as a user runs it (``python -m invoke ...``), in a
throwaway copy of this project whose caches were warmed first. With ``--baseline REV`` the same
figures are also measured, interleaved run by run, with the package as it was at REV (``git archive``
of its ci/ into a temp dir, put first on PYTHONPATH): on a busy machine that comparison is the fair
one. BEFORE holds the figures measured before the work (docs/benchmarks.md, idle machine).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.helpers import copy_project  # noqa: E402

ALL_JOBS = (("apacheinit", "x86_64"), ("apacheinit", "aarch64"), ("testrfs", "x86_64"), ("testrfs", "aarch64"))
LIST, SMOKE = "invoke --list", "smoke apacheinit (27 checks)"
PIPELINE, IMAGE = "warm invoke pipeline", "invoke image (CLI)"
IMAGE_RATIO, ALL_RATIO = "invoke image (CLI) / recipe", "pipeline --all / the four runs alone"
BEFORE = {SMOKE: 3.4, PIPELINE: 6.0, LIST: 0.34, IMAGE_RATIO: 1.8}
GOALS = {SMOKE: 1.5, PIPELINE: 3.0, LIST: 0.20, IMAGE_RATIO: 1.0, ALL_RATIO: 0.6}
FAILED_RUNS: list[str] = []  # runs whose exit status was not 0: counted and shown, not hidden


def wall(project: Path, *args: str, env: dict[str, str] | None = None) -> float:
    """Wall time of one CLI run. A failing run (on a busy machine, e.g. a smoke run whose docker stop
    took longer than the spec's 1 s) still counts with its time, and is listed with its error line."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    seconds = time.monotonic() - started
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        FAILED_RUNS.append(f"invoke {' '.join(args)}: exit {result.returncode}: {last}")
        print(f"[bench] warning: {FAILED_RUNS[-1]}", file=sys.stderr)
    return seconds


def baseline_env(revision: str, work: Path) -> dict[str, str]:
    """PYTHONPATH for the package as it was at ``revision`` (read from git, the checkout untouched)."""
    archive = subprocess.run(["git", "archive", revision, "ci"], cwd=REPO, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(work / "baseline", filter="data")
    return {"PYTHONPATH": str(work / "baseline" / "ci")}


def side_by_side(project: Path, runs: int, tag: str, old: dict[str, str] | None) -> dict[str, dict[str, float]]:
    """Median seconds per figure, now and (with ``old``) at the baseline, their runs interleaved."""
    commands = {
        LIST: ("--list",),
        SMOKE: ("smoke", "--tag", tag),
        PIPELINE: ("pipeline", "--tag", tag),
        IMAGE: ("image", "--tag", tag),
    }
    result: dict[str, dict[str, float]] = {"now": {}, "baseline": {}}
    for name, args in commands.items():
        now, then = [], []
        for _ in range(max(runs, 10) if name == LIST else runs):
            now.append(wall(project, *args))
            if old is not None:
                then.append(wall(project, *args, env=old))
        result["now"][name] = statistics.median(now)
        if then:
            result["baseline"][name] = statistics.median(then)
    return result


def all_at_once(project: Path, runs: int, tag: str) -> dict[str, float]:
    for image, arch in ALL_JOBS:  # warm every job once
        wall(project, "pipeline", "--image", image, "--arch", arch, "--tag", tag)
    alone, together = [], []
    for _ in range(runs):
        alone.append(sum(wall(project, "pipeline", "--image", i, "--arch", a, "--tag", tag) for i, a in ALL_JOBS))
        together.append(wall(project, "pipeline", "--all", "--tag", tag))
    ratios = [both / one_by_one for both, one_by_one in zip(together, alone, strict=True)]
    return {
        "pipeline --all": statistics.median(together),
        "the four runs alone, summed": statistics.median(alone),
        ALL_RATIO: statistics.median(ratios),
    }


def remove_images(tag: str) -> None:
    for image, arch in ALL_JOBS:
        suffix = "" if arch == "x86_64" else f"-{arch}"
        subprocess.run(["docker", "rmi", "-f", f"{image}:{tag}{suffix}"], capture_output=True, check=False)


def measure(work: Path, runs: int, baseline: str | None = None) -> dict[str, Any]:
    tag = f"bench-speed-{int(time.time())}"
    project = copy_project(work / "speed")
    old = baseline_env(baseline, work) if baseline else None
    try:
        wall(project, "pipeline", "--tag", tag)  # warm the caches
        if old is not None:
            wall(project, "pipeline", "--tag", tag, env=old)  # and the baseline's bytecode
        report: dict[str, Any] = side_by_side(project, runs, tag, old)
        report["now"].update(all_at_once(project, runs, tag))
    finally:
        remove_images(tag)
    report["baseline_revision"] = baseline
    report["failed_runs"] = list(FAILED_RUNS)
    return report


def print_table(report: dict[str, Any], recipe_image_s: float | None = None) -> None:
    now, then = report["now"], report["baseline"]
    if recipe_image_s:
        now[IMAGE_RATIO] = now[IMAGE] / recipe_image_s
        if IMAGE in then:
            then[IMAGE_RATIO] = then[IMAGE] / recipe_image_s
    revision = report["baseline_revision"] or "-"
    print(f"\nissue #18, medians (s, or a ratio); 'before': docs/benchmarks.md; baseline: {revision}, same run")
    print(f"  {'figure':<40}{'before':>8}{'baseline':>10}{'now':>8}{'goal':>9}")
    for name in (SMOKE, PIPELINE, LIST, IMAGE, IMAGE_RATIO, "pipeline --all", "the four runs alone, summed", ALL_RATIO):
        cells = [BEFORE.get(name), then.get(name), now.get(name)]
        shown = [f"{cell:.2f}" if cell is not None else "-" for cell in cells]
        goal = f"<= {GOALS[name]}" if name in GOALS else ""
        print(f"  {name:<40}{shown[0]:>8}{shown[1]:>10}{shown[2]:>8}{goal:>9}")
    print(f"  runs that failed (their times count): {len(report['failed_runs'])}")
    for failed in report["failed_runs"]:
        print(f"    {failed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", help="git revision to measure side by side (e.g. main)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rootfs-ci-bench-speed-") as tmp:
        report = measure(Path(tmp), args.runs, args.baseline)
    print_table(report)


if __name__ == "__main__":
    main()
