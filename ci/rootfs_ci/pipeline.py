"""The main job as a plain function: build the rootfs, make the image, smoke-test it.

``invoke pipeline`` calls ``run_pipeline``; ``invoke pipeline --all`` runs one child process per
image x architecture, ``python -m rootfs_ci.pipeline``, given the validated configuration on stdin,
so each job is exactly the single run (same functions, same settings, same outputs).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TextIO

from invoke.exceptions import Exit

from rootfs_ci.config import Settings, load_settings
from rootfs_ci.errors import ConfigError, RootfsCiError
from rootfs_ci.fsutil import shown
from rootfs_ci.image.build import build_image
from rootfs_ci.jobs import Finished, Job, print_table, run_jobs
from rootfs_ci.progress import Progress
from rootfs_ci.records import RootfsRecord
from rootfs_ci.rootfs.build import build_rootfs
from rootfs_ci.smoke.runner import resolve_spec, run_smoke
from rootfs_ci.tasks.boundary import boundary


def rootfs_line(record: RootfsRecord) -> str:
    return f"rootfs {record.image}/{record.arch}: {record.rootfs.size} bytes sha256:{record.rootfs.sha256}"


def run_pipeline(
    settings: Settings,
    image: str | None,
    arch: str | None,
    backend: str | None,
    tag: str | None,
    *,
    locked: bool = False,
) -> list[str]:
    """build -> image -> smoke for one image and architecture; the result lines."""
    resolve_spec(settings, settings.image(image)[0])  # a missing spec fails now, not after the build
    built = build_rootfs(settings, image, arch, backend, locked=locked)
    loaded = build_image(settings, built.image, built.arch, tag, built=built)
    lines = [rootfs_line(built), f"image {loaded.reference}: {loaded.image_id}"]
    for line in lines:
        print(line, flush=True)
    smoked = run_smoke(settings, built.image, built.arch, tag, image_record=loaded)
    lines.append(f"smoke {smoked.reference}: passed ({len(smoked.checks)} checks)")
    print(lines[-1], flush=True)
    return lines


def child_command(
    project_dir: Path, image: str, arch: str, backend: str | None, tag: str | None, locked: bool
) -> list[str]:
    command = [sys.executable, "-m", "rootfs_ci.pipeline", str(project_dir), image, arch]
    command += ["--backend", backend] if backend else []
    return command + (["--tag", tag] if tag else []) + (["--locked"] if locked else [])


def child_input(settings: Settings) -> str:
    """What a child reads on stdin: the validated ``rootfs_ci`` configuration."""
    return json.dumps(settings.config.model_dump(mode="json", exclude_unset=True))


def all_jobs(settings: Settings, backend: str | None, tag: str | None, locked: bool = False) -> list[Job]:
    """One job per image x architecture of invoke.yaml, in the order it declares them."""
    if tag is not None and (":" in tag or "/" in tag):
        raise ConfigError(f"--tag {tag!r} is a full reference; with --all give a tag only (e.g. v01), one per image")
    stdin = child_input(settings)
    logs = settings.cache_dir / "logs" / "pipeline"
    return [
        Job(
            f"{name}/{arch}",
            child_command(settings.project_dir, name, arch, backend, tag, locked),
            stdin,
            logs / f"{name}-{arch}.log",
        )
        for name, image in settings.config.images.items()
        for arch in image.platforms
    ]


def run_all(
    settings: Settings, backend: str | None, tag: str | None, parallel: int, stream: TextIO, *, locked: bool = False
) -> None:
    """``pipeline --all``: every image x architecture, ``parallel`` at a time (0: the CPU count)."""
    if parallel < 0:
        raise ConfigError(f"--jobs {parallel} is not a number of jobs; give 1 or more (0: the CPU count)")
    parallel = parallel or os.cpu_count() or 1
    jobs = all_jobs(settings, backend, tag, locked)
    if not jobs:
        raise ConfigError("invoke.yaml declares no images; add one under rootfs_ci.images")
    progress = Progress("pipeline --all", f"{len(jobs)} jobs, {min(parallel, len(jobs))} at a time", stream)

    def finished(result: Finished, done: int) -> None:
        state = "passed" if result.passed else f"FAILED (exit {result.exit_code}), log {shown(result.job.log)}"
        progress.step(f"{done}/{len(jobs)} {result.job.name} {state} in {result.seconds:.1f}s")

    results = run_jobs(jobs, parallel, finished)
    rows = [(r.job.name, "passed" if r.passed else "FAILED", f"{r.seconds:.1f}s", _detail(r)) for r in results]
    print_table(("job", "result", "time", "image ID / error"), rows, stream)
    failed = [result for result in results if not result.passed]
    if failed:
        error = RootfsCiError(
            f"{len(failed)} of {len(results)} pipeline jobs failed: {', '.join(r.job.name for r in failed)} "
            f"(logs in {shown(failed[0].job.log.parent)})"
        )
        error.exit_code = failed[0].exit_code if failed[0].exit_code > 0 else 1
        raise error


def _detail(result: Finished) -> str:
    """The image ID of a job that passed; the error line of one that failed."""
    try:
        lines = result.job.log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    wanted = "image " if result.passed else "rootfs-ci: error: "
    found = [line for line in lines if line.startswith(wanted)]
    if not found:
        return "" if result.passed else (lines[-1] if lines else f"exit {result.exit_code}")
    return found[-1].rpartition(": ")[2] if result.passed else found[-1].removeprefix(wanted)


def _child(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rootfs_ci.pipeline", description="one job of pipeline --all")
    for name in ("project_dir", "image", "arch"):
        parser.add_argument(name)
    parser.add_argument("--backend")
    parser.add_argument("--tag")
    parser.add_argument("--locked", action="store_true")
    args = parser.parse_args(argv)

    @boundary
    def job() -> None:
        settings = load_settings(json.load(sys.stdin), Path(args.project_dir), os.environ)
        run_pipeline(settings, args.image, args.arch, args.backend, args.tag, locked=args.locked)

    try:
        job()
    except Exit as exc:
        print(exc.message, file=sys.stderr)
        return exc.code
    return 0


if __name__ == "__main__":
    sys.exit(_child())
