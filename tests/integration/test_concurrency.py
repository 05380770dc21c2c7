"""Interrupts at any stage and concurrent pipelines: no collision, nothing left behind."""

from __future__ import annotations

import contextlib
import signal
import time
import uuid
from pathlib import Path

import docker
import pytest

from rootfs_ci import labels
from tests.helpers import Project, make_project

pytestmark = pytest.mark.docker


def leftovers(project: Project, shared_cache: Path) -> list[str]:
    """Partial files in dist/ and scratch dirs in the cache."""
    partial = [str(p) for p in project.files("dist") if p.name.endswith(".tmp")]
    scratch = shared_cache / "tmp"
    return partial + ([str(p) for p in scratch.iterdir()] if scratch.exists() else [])


def containers_of(client: docker.DockerClient, pid: int) -> list[str]:
    found = client.containers.list(all=True, sparse=True, filters={"label": f"{labels.PID}={pid}"})
    return [c.attrs["Names"][0].lstrip("/") for c in found]


@pytest.mark.parametrize(
    ("args", "marker", "sig"),
    [
        (("build",), "to fetch", signal.SIGINT),  # with a cold cache: during apt-get download
        (("build",), "extracted", signal.SIGTERM),
        (("pipeline",), "[image", signal.SIGINT),
        (("pipeline",), "[smoke", signal.SIGTERM),
    ],
    ids=["download SIGINT", "build SIGTERM", "image SIGINT", "smoke SIGTERM"],
)
def test_interrupt_at_any_stage_leaves_nothing(
    args: tuple[str, ...],
    marker: str,
    sig: signal.Signals,
    project: Project,
    shared_cache: Path,
    engine,
    unique_tag: str,
    tmp_path: Path,
) -> None:
    if marker == "to fetch":
        shared_cache = tmp_path / "cold-cache"
        project = make_project(tmp_path / "cold", shared_cache)
    process = project.start(*args, "--tag", unique_tag) if args == ("pipeline",) else project.start(*args)
    seen = ""
    assert process.stderr is not None
    for line in process.stderr:
        seen += line
        if marker in line:
            process.send_signal(sig)
            break
    else:
        pytest.fail(f"never saw {marker!r}: {seen}")
    _, rest = process.communicate(timeout=60)
    try:
        assert process.returncode == 130, seen + rest
        assert "rootfs-ci: error: interrupted" in rest
        assert "Traceback" not in rest
        assert leftovers(project, shared_cache) == []
        assert containers_of(engine, process.pid) == []
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            engine.images.remove(f"apacheinit:{unique_tag}", force=True)


def test_four_pipelines_at_once(project: Project, shared_cache: Path, engine) -> None:
    """Two images, two tags each, all in one project (shared dist/ and cache): all pass."""
    run = uuid.uuid4().hex[:8]
    jobs = [(image, f"c{n}-{run}") for image in ("apacheinit", "testrfs") for n in (1, 2)]
    started = time.monotonic()
    processes = [project.start("pipeline", "--image", image, "--tag", tag) for image, tag in jobs]
    results = [process.communicate(timeout=600) for process in processes]
    elapsed = time.monotonic() - started
    try:
        for (image, tag), process, (_, stderr) in zip(jobs, processes, results, strict=True):
            assert process.returncode == 0, f"{image}:{tag}\n{stderr}"
            assert "passed, 0 failed" in stderr
            assert engine.images.get(f"{image}:{tag}").id
            assert containers_of(engine, process.pid) == []
        assert leftovers(project, shared_cache) == []
        print(f"four pipelines in {elapsed:.1f} s")
    finally:
        for image, tag in jobs:
            with contextlib.suppress(docker.errors.ImageNotFound):
                engine.images.remove(f"{image}:{tag}", force=True)
