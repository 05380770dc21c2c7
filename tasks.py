"""This repository's task tree: rootfs-ci's reusable collections, configured by invoke.yaml."""

import sys
from pathlib import Path

from invoke.context import Context
from invoke.tasks import task

from rootfs_ci.tasks import namespace

ns = namespace(Path(__file__).resolve().parent)


@task(
    help={
        "runs": "repetitions for medians (default 3)",
        "output": "JSON file (default dist/bench.json)",
        "baseline": "git revision whose speed figures to measure side by side, e.g. main (default: none)",
    }
)
def bench(c: Context, runs: int = 3, output: str = "dist/bench.json", baseline: str = "") -> None:
    """Benchmarks: size, pipeline time, start/stop, throughput, against the recipe's way (bench/run.py)."""
    script = Path(__file__).resolve().parent / "bench" / "run.py"
    compare = f" --baseline {baseline}" if baseline else ""
    c.run(f"{sys.executable} {script} --runs {runs} --output {output}{compare}")


ns.add_task(bench)
