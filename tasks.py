"""This repository's task tree: rootfs-ci's reusable collections, configured by invoke.yaml."""

import sys
from pathlib import Path

from invoke.context import Context
from invoke.tasks import task

from rootfs_ci.tasks import namespace

ns = namespace(Path(__file__).resolve().parent)


@task(help={"runs": "repetitions for medians (default 3)", "output": "JSON file (default dist/bench.json)"})
def bench(c: Context, runs: int = 3, output: str = "dist/bench.json") -> None:
    """Benchmarks: size, pipeline time, start/stop, throughput, against the recipe's way (bench/run.py)."""
    c.run(f"{sys.executable} {Path(__file__).resolve().parent / 'bench' / 'run.py'} --runs {runs} --output {output}")


ns.add_task(bench)
