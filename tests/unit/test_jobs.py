"""rootfs_ci.jobs: bounded child processes, results in list order, one callback per job as it ends."""

from __future__ import annotations

import io
import sys
from pathlib import Path

from rootfs_ci.jobs import Finished, Job, print_table, run_jobs

CHILD = (
    "import sys, time; data = sys.stdin.read(); time.sleep(float(sys.argv[1])); print(data); sys.exit(int(sys.argv[2]))"
)


def job(tmp_path: Path, name: str, sleep: float, code: int) -> Job:
    return Job(name, [sys.executable, "-c", CHILD, str(sleep), str(code)], f"input of {name}", tmp_path / f"{name}.log")


def test_jobs_run_bounded_and_report_in_list_order(tmp_path: Path) -> None:
    jobs = [job(tmp_path, "slow", 4.0, 0), job(tmp_path, "fails", 0.0, 3), job(tmp_path, "fast", 0.0, 0)]
    seen: list[tuple[str, int]] = []

    def finished(result: Finished, done: int) -> None:
        seen.append((result.job.name, done))

    results = run_jobs(jobs, 2, finished)
    assert [(r.job.name, r.exit_code, r.passed) for r in results] == [
        ("slow", 0, True),
        ("fails", 3, False),
        ("fast", 0, True),
    ]
    # two at a time: "fast" starts when "fails" ends, and both end before "slow" (4 s: room for a busy machine)
    assert seen == [("fails", 1), ("fast", 2), ("slow", 3)]
    assert (tmp_path / "slow.log").read_text() == "input of slow\n"  # stdin in, stdout and stderr to the log


def test_one_job_at_a_time_runs_them_in_order(tmp_path: Path) -> None:
    jobs = [job(tmp_path, "first", 0.2, 0), job(tmp_path, "second", 0.0, 0)]
    seen: list[str] = []
    run_jobs(jobs, 1, lambda result, _: seen.append(result.job.name))
    assert seen == ["first", "second"]


def test_table_columns_line_up() -> None:
    out = io.StringIO()
    print_table(("job", "result", "detail"), [("a/x86_64", "passed", "sha256:1"), ("bb/aarch64", "FAILED", "no")], out)
    lines = out.getvalue().splitlines()
    assert lines == [
        "job         result  detail",
        "a/x86_64    passed  sha256:1",
        "bb/aarch64  FAILED  no",
    ]
