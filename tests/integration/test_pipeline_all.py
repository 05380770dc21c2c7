"""invoke pipeline --all: every image x architecture at once, a table, the exit status, and each job's
outputs exactly those of a run on its own."""

from __future__ import annotations

import contextlib
import re

import docker
import pytest

from tests.helpers import Project

pytestmark = pytest.mark.docker


def only_testrfs_twice(project: Project) -> None:
    """Two small x86_64 images: testrfs, and a copy whose CMD its spec does not expect (its smoke fails)."""

    def edit(data: dict) -> None:
        images = data["rootfs_ci"]["images"]
        testrfs = {**images["testrfs"], "platforms": ["x86_64"], "smoke_spec": "tests/smoke/testrfs.yaml"}
        data["rootfs_ci"]["images"] = {"testrfs": testrfs, "wrongcmd": {**testrfs, "cmd": ["/bin/ash"]}}
        data["rootfs_ci"]["default_image"] = "testrfs"

    project.edit_config(edit)


def table_row(stderr: str, job: str) -> list[str]:
    rows = [line.split() for line in stderr.splitlines() if line.startswith(f"{job} ")]
    assert len(rows) == 1, stderr
    return rows[0]


def test_all_runs_every_job_reports_each_and_fails_if_one_fails(
    project: Project, engine: docker.DockerClient, unique_tag: str
) -> None:
    only_testrfs_twice(project)
    try:
        together = project.invoke("pipeline", "--all", "--jobs", "2", "--tag", unique_tag)
        assert together.returncode == 6, together.stderr  # the failing job's exit status (smoke)
        progress = re.findall(r"\] ([12])/2 (testrfs|wrongcmd)/x86_64 (passed|FAILED)", together.stderr)
        assert [number for number, _, _ in progress] == ["1", "2"]  # one line per job, as each ends
        assert {(job, state) for _, job, state in progress} == {("testrfs", "passed"), ("wrongcmd", "FAILED")}
        assert table_row(together.stderr, "testrfs/x86_64")[1] == "passed"
        failed = table_row(together.stderr, "wrongcmd/x86_64")
        assert failed[1] == "FAILED"
        assert "metadataTest: cmd" in " ".join(failed[3:])  # the job's own error line
        assert together.stderr.rstrip().splitlines()[-1].startswith("rootfs-ci: error: 1 of 2 pipeline jobs failed")
        image_id_together = table_row(together.stderr, "testrfs/x86_64")[3]

        alone = project.invoke("pipeline", "--image", "testrfs", "--tag", unique_tag)
        assert alone.returncode == 0, alone.stderr
        assert f"image testrfs:{unique_tag}: {image_id_together}" in alone.stdout
    finally:
        for name in ("testrfs", "wrongcmd"):
            with contextlib.suppress(docker.errors.ImageNotFound):
                engine.images.remove(f"{name}:{unique_tag}", force=True)
