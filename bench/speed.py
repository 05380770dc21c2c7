"""Issue #18's figures, side by side in one run: smoke, warm pipeline, start-up, image, pipeline --all.

    .venv/bin/python bench/speed.py [--runs 3] [--baseline REV]   (invoke bench runs it too)

Every figure is a median of wall times of the CLI as a user runs it (``python -m invoke ...``), in a
throwaway copy of this project whose caches were warmed first, with Python's bytecode cached as in
an installed package (PYTHONDONTWRITEBYTECODE is dropped). With ``--baseline REV`` the same figures
are also measured, interleaved run by run, with the package as it was at REV (``git archive`` of its
ci/ into a temp dir, put first on PYTHONPATH): on a busy machine that comparison is the fair one.

Next to each figure is a floor measured on this host in the same run: what no implementation of
the task can beat here. Invoke alone for ``--list``; the recipe's ``docker import`` + ``docker
build`` for ``invoke image``; the containers the smoke spec needs, run with the docker CLI and no
checks at all; and the CPU bound: every run's CPU time (all processes: ours, the engine's, the
kernel's) divided by the host's cores. BEFORE holds the figures measured before the work
(docs/benchmarks.md, idle machine).
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
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.stop_latency import wait_for_200  # noqa: E402
from tests.helpers import copy_project  # noqa: E402

ALL_JOBS = (("apacheinit", "x86_64"), ("apacheinit", "aarch64"), ("testrfs", "x86_64"), ("testrfs", "aarch64"))
LIST, SMOKE = "invoke --list", "smoke apacheinit (27 checks)"
SMOKE_EXEC = "  same, read-only commands exec: true"
PIPELINE, IMAGE = "warm invoke pipeline", "invoke image (CLI)"
IMAGE_RATIO, ALL_RATIO = "invoke image (CLI) / recipe", "pipeline --all / the four runs alone"
ALL, ALONE = "pipeline --all", "the four runs alone, summed"
RECIPE_IMAGES = ("bench-speed-recipe:v01", "bench-speed-recipe-import:v01")
BEFORE = {SMOKE: 3.4, PIPELINE: 6.0, LIST: 0.34, IMAGE_RATIO: 1.8}
GOALS = {SMOKE: 1.5, PIPELINE: 3.0, LIST: 0.20, IMAGE_RATIO: 1.0, ALL_RATIO: 0.6}
CORES = os.cpu_count() or 1
FAILED_RUNS: list[str] = []  # runs whose exit status was not 0: counted and shown, not hidden
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


@dataclass(frozen=True)
class Run:
    wall: float  # seconds
    cpu: float  # CPU seconds of the whole host while it ran: ours, the engine's, the kernel's


def _busy_cpu_seconds() -> float:
    with open("/proc/stat", encoding="ascii") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait


def measured(action: Callable[[], object]) -> Run:
    cpu, started = _busy_cpu_seconds(), time.monotonic()
    action()
    return Run(time.monotonic() - started, _busy_cpu_seconds() - cpu)


def cli(project: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    """One CLI run. A failing run (on a busy machine, e.g. a smoke run whose docker stop took longer
    than the spec's 1 s) still counts with its time, and is listed with its error line."""

    def run() -> None:
        result = subprocess.run(
            [sys.executable, "-m", "invoke", *args],
            cwd=project,
            capture_output=True,
            text=True,
            check=False,
            env={**ENV, **(env or {})},
        )
        if result.returncode != 0:
            lines = result.stderr.strip().splitlines() or ["(no output)"]
            # pipeline --all: the failed jobs' rows of its table say which check failed
            last = " | ".join([line for line in lines if " FAILED " in line and " log " not in line] + lines[-1:])
            for log in sorted((project / ".cache/rootfs-ci/logs/pipeline").glob("*.log")):
                got = [line.strip() for line in log.read_text(errors="replace").splitlines() if "got:" in line]
                last += "".join(f" | {log.stem}: {line}" for line in got)
            FAILED_RUNS.append(f"invoke {' '.join(args)}: exit {result.returncode}: {last}")
            print(f"[bench] warning: {FAILED_RUNS[-1]}", file=sys.stderr)

    return measured(run)


def docker(*args: str, stdin: str | None = None) -> str:
    return subprocess.run(["docker", *args], input=stdin, capture_output=True, text=True, check=True).stdout.strip()


def baseline_env(revision: str, work: Path) -> dict[str, str]:
    """PYTHONPATH for the package as it was at ``revision`` (read from git, the checkout untouched)."""
    archive = subprocess.run(["git", "archive", revision, "ci"], cwd=REPO, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(work / "baseline", filter="data")
    return {"PYTHONPATH": str(work / "baseline" / "ci")}


# ---- floors: what this host needs whatever rootfs-ci does ----------------------------------------


def invoke_alone(work: Path) -> Run:
    """``invoke --list`` of a tasks.py with one empty task: Python's and Invoke's own start-up."""
    empty = work / "invoke-alone"
    empty.mkdir(exist_ok=True)
    (empty / "tasks.py").write_text("from invoke import task\n\n\n@task\ndef noop(c):\n    pass\n")
    return cli(empty, "--list")


def recipe_image(rootfs: Path, work: Path) -> Run:
    """The recipe's way to an image from the same rootfs.tar: ``docker import`` + ``docker build``."""
    context = work / "recipe"
    context.mkdir(exist_ok=True)
    (context / "Dockerfile").write_text("FROM bench-speed-recipe-import:v01\nCMD /bin/start.sh\n")

    def run() -> None:
        with rootfs.open("rb") as data:
            subprocess.run(
                ["docker", "import", "-", "bench-speed-recipe-import:v01"], stdin=data, capture_output=True, check=True
            )
        docker("build", "-q", "-t", "bench-speed-recipe:v01", str(context))

    try:
        return measured(run)
    finally:  # docker import makes a new image each time: none is left behind untagged
        subprocess.run(["docker", "rmi", "-f", *RECIPE_IMAGES], capture_output=True, check=False)


def spec_containers(image: str, spec: dict[str, Any]) -> Run:
    """The containers apacheinit's smoke spec needs, with the docker CLI and no checks: the CMD
    (published on loopback, until its first HTTP answer, then docker stop), and at the same time one
    container per commandTest and one per interactive test (CMD with a TTY, removed at the end), as
    the smoke stage runs them."""
    commands = [
        [test["command"], *test.get("args", [])] for test in spec.get("commandTests", []) if not test.get("exec")
    ]

    def run() -> None:
        started = [docker("run", "-d", "-p", "127.0.0.1::80", image)]
        try:
            with ThreadPoolExecutor(max_workers=len(commands) + 1) as pool:
                others = [pool.submit(docker, "run", "--rm", "--entrypoint", "", image, *argv) for argv in commands]
                ttys = [pool.submit(docker, "run", "-d", "-t", image) for _ in spec.get("interactive", [])]
                wait_for_200(f"http://{docker('port', started[0], '80/tcp').splitlines()[0]}/", image, timeout=30)
                docker("stop", started[0])
                for other in others:
                    other.result()
                started += [tty.result() for tty in ttys]
        finally:
            docker("rm", "-f", *started)

    return measured(run)


READ_ONLY = ("apachectl", "find", "date")  # commands that change nothing: the same verdict in the CMD's container


def exec_variant(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec with its read-only commandTests run by docker exec in the CMD's container (``exec: true``)
    instead of a new container each, as a spec author may choose: what CST's one container per test
    costs (``docker run IMAGE echo hi`` keeps its own container: a new container is what it checks)."""
    tests = [
        {**test, "exec": True} if test["command"].rpartition("/")[2] in READ_ONLY else test
        for test in spec.get("commandTests", [])
    ]
    return {**spec, "commandTests": tests}


def exec_spec(project: Path) -> Path:
    path = project / "tests/smoke/apacheinit-exec.yaml"
    if not path.exists():
        spec = yaml.safe_load((project / "tests/smoke/apacheinit.yaml").read_text())
        path.write_text(yaml.safe_dump(exec_variant(spec), sort_keys=False))
    return path


def cpu_bound(runs: Sequence[Run]) -> float:
    """The least wall time the runs' CPU work needs on this host's cores."""
    return statistics.median(run.cpu for run in runs) / CORES


# ---- the figures ---------------------------------------------------------------------------------


def side_by_side(project: Path, runs: int, tag: str, old: dict[str, str] | None) -> dict[str, dict[str, float]]:
    """Median seconds per figure, now and (with ``old``) at the baseline, their runs interleaved; the
    floors next to them."""
    commands = {
        LIST: ("--list",),
        SMOKE: ("smoke", "--tag", tag),
        SMOKE_EXEC: ("smoke", "--tag", tag, "--spec", str(exec_spec(project))),
        PIPELINE: ("pipeline", "--tag", tag),
        IMAGE: ("image", "--tag", tag),
    }
    spec = yaml.safe_load((project / "tests/smoke/apacheinit.yaml").read_text())
    rootfs = project / "dist/apacheinit/x86_64/rootfs.tar"
    floors: dict[str, Callable[[], Run]] = {
        LIST: lambda: invoke_alone(project.parent),
        SMOKE: lambda: spec_containers(f"apacheinit:{tag}", spec),
        SMOKE_EXEC: lambda: spec_containers(f"apacheinit:{tag}", exec_variant(spec)),
        IMAGE: lambda: recipe_image(rootfs, project.parent),
    }
    result: dict[str, dict[str, float]] = {"now": {}, "baseline": {}, "floor": {}, "cpu_bound": {}}
    for name, args in commands.items():
        now: list[Run] = []
        then: list[Run] = []
        floor: list[Run] = []
        for _ in range(max(runs, 10) if name == LIST else runs):
            now.append(cli(project, *args))
            if old is not None:
                then.append(cli(project, *args, env=old))
            if name in floors:
                floor.append(floors[name]())
        result["now"][name] = statistics.median(run.wall for run in now)
        result["cpu_bound"][name] = cpu_bound(now)
        if then:
            result["baseline"][name] = statistics.median(run.wall for run in then)
        if floor:
            result["floor"][name] = statistics.median(run.wall for run in floor)
    result["now"][IMAGE_RATIO] = result["now"][IMAGE] / result["floor"][IMAGE]
    if IMAGE in result["baseline"]:
        result["baseline"][IMAGE_RATIO] = result["baseline"][IMAGE] / result["floor"][IMAGE]
    return result


def all_at_once(project: Path, runs: int, tag: str) -> dict[str, dict[str, float]]:
    for image, arch in ALL_JOBS:  # warm every job once
        cli(project, "pipeline", "--image", image, "--arch", arch, "--tag", tag)
    alone: list[list[Run]] = []
    together: list[Run] = []
    for _ in range(runs):
        alone.append([cli(project, "pipeline", "--image", i, "--arch", a, "--tag", tag) for i, a in ALL_JOBS])
        together.append(cli(project, "pipeline", "--all", "--tag", tag))
    summed = [sum(run.wall for run in jobs) for jobs in alone]
    # However they are scheduled, the four jobs need their CPU time on CORES cores, and the longest alone.
    bounds = [max(sum(run.cpu for run in jobs) / CORES, *(run.wall for run in jobs)) for jobs in alone]
    return {
        "now": {
            ALL: statistics.median(run.wall for run in together),
            ALONE: statistics.median(summed),
            ALL_RATIO: statistics.median(
                run.wall / one_by_one for run, one_by_one in zip(together, summed, strict=True)
            ),
        },
        "floor": {
            ALL_RATIO: statistics.median(bound / one_by_one for bound, one_by_one in zip(bounds, summed, strict=True))
        },
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
        cli(project, "pipeline", "--tag", tag)  # warm the caches and the bytecode
        if old is not None:
            cli(project, "pipeline", "--tag", tag, env=old)  # and the baseline's
        report: dict[str, Any] = side_by_side(project, runs, tag, old)
        together = all_at_once(project, runs, tag)
        report["now"].update(together["now"])
        report["floor"].update(together["floor"])
    finally:
        remove_images(tag)
    report["cores"] = CORES
    report["baseline_revision"] = baseline
    report["failed_runs"] = list(FAILED_RUNS)
    return report


ROWS = (SMOKE, SMOKE_EXEC, PIPELINE, LIST, IMAGE, IMAGE_RATIO, ALL, ALONE, ALL_RATIO)
FLOOR_NAMES = {
    LIST: "Invoke alone",
    SMOKE: "spec's containers, docker CLI",
    SMOKE_EXEC: "spec's containers, docker CLI",
    IMAGE: "recipe: import + build",
    IMAGE_RATIO: "-",
    ALL_RATIO: "CPU-bound",
}


def print_table(report: dict[str, Any]) -> None:
    now, then, floor, bound = report["now"], report["baseline"], report["floor"], report["cpu_bound"]
    revision = report["baseline_revision"] or "-"
    print(f"\nissue #18, medians (s, or a ratio); 'before': docs/benchmarks.md; baseline: {revision}, same run")
    print(f"floors on this host ({report['cores']} cores), same run: what no implementation can beat here")
    header = (
        f"{'figure':<38}{'before':>7}{'baseline':>9}{'now':>7}{'floor':>7}  {'floor is':<31}{'CPU-bound':>9}{'goal':>8}"
    )
    print("  " + header)
    for name in ROWS:
        cells = [BEFORE.get(name), then.get(name), now.get(name), floor.get(name)]
        shown = [f"{cell:.2f}" if cell is not None else "-" for cell in cells]
        cpu = f"{bound[name]:.2f}" if name in bound else "-"
        goal = f"<= {GOALS[name]}" if name in GOALS else ""
        floor_is = FLOOR_NAMES.get(name, "") if name in floor else ""
        print(f"  {name:<38}{shown[0]:>7}{shown[1]:>9}{shown[2]:>7}{shown[3]:>7}  {floor_is:<31}{cpu:>9}{goal:>8}")
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
