"""Smoke checks are bounded: a command that never exits or prints without end fails with its reason,
in bounded time and memory, and leaves no container behind (also when interrupted)."""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from rootfs_ci.smoke.capture import OUTPUT_LIMIT
from tests.helpers import Project, make_project
from tests.integration.test_smoke import our_containers

pytestmark = pytest.mark.docker

FLOOD_BYTES = 50_000_000
FLOOD = f"yes 0123456789abcdef | head -c {FLOOD_BYTES}; echo; echo the-end"


@pytest.fixture(scope="module")
def testrfs(
    tmp_path_factory: pytest.TempPathFactory, shared_cache: Path, engine: docker.DockerClient
) -> Iterator[tuple[Project, str]]:
    project = make_project(tmp_path_factory.mktemp("limits") / "project", shared_cache)
    tag = f"test-{uuid.uuid4().hex[:10]}"
    assert project.invoke("build", "--image", "testrfs").returncode == 0
    assert project.invoke("image", "--image", "testrfs", "--tag", tag).returncode == 0
    yield project, tag
    engine.images.remove(f"testrfs:{tag}", force=True)


def write_spec(path: Path, commands: list[dict[str, object]], logs: list[dict[str, object]] | None = None) -> Path:
    spec = {"schemaVersion": "2.0.0", "container": {"stdinOpen": True}, "commandTests": commands, "logs": logs or []}
    path.write_text(json.dumps(spec))  # JSON is YAML
    return path


def failures(project: Project, image: str = "testrfs") -> dict[str, str]:
    record = json.loads((project.path / "dist" / image / "x86_64" / "smoke.json").read_text())
    return {check["name"]: check["got"] for check in record["checks"] if not check["passed"]}


def test_a_command_that_never_exits_fails_after_its_timeout(
    testrfs: tuple[Project, str], engine: docker.DockerClient, tmp_path: Path
) -> None:
    project, tag = testrfs
    sleep = {"command": "sleep", "args": ["1000"], "timeoutSeconds": 2}
    quiet = {"command": "sh", "args": ["-c", "exec >&- 2>&-; sleep 1000"], "timeoutSeconds": 2}  # output ends early
    tests = [{"name": "exec", "exec": True, **sleep}, {"name": "fresh", **sleep}]
    tests += [{"name": "exec, output closed", "exec": True, **quiet}, {"name": "fresh, output closed", **quiet}]
    spec = write_spec(tmp_path / "hang.yaml", tests)
    started = time.monotonic()
    result = project.invoke("smoke", "--image", "testrfs", "--tag", tag, "--spec", str(spec), timeout=120)
    assert time.monotonic() - started < 60
    assert result.returncode == 6, result.stderr
    assert "Traceback" not in result.stderr
    got = failures(project)
    assert set(got) == {test["name"] for test in tests}
    assert all(text.startswith("timed out after 2s") for text in got.values()), got
    assert "FAILED commandTests: fresh" in result.stderr
    assert our_containers(engine, result.pid) == []


def test_a_flood_of_output_is_capped_and_fails_with_its_tail(
    testrfs: tuple[Project, str], engine: docker.DockerClient, tmp_path: Path
) -> None:
    project, tag = testrfs
    flood = {"command": "sh", "args": ["-c", FLOOD], "expectedOutput": ["the-end"]}
    spec = write_spec(tmp_path / "flood.yaml", [{"name": "exec", "exec": True, **flood}, {"name": "fresh", **flood}])
    result = project.invoke("smoke", "--image", "testrfs", "--tag", tag, "--spec", str(spec), timeout=300)
    assert result.returncode == 6, result.stderr
    got = failures(project)
    assert set(got) == {"exec", "fresh"}
    for text in got.values():
        assert f"stdout printed {FLOOD_BYTES + len(chr(10) + 'the-end' + chr(10))} bytes" in text, text
        assert f"over the {OUTPUT_LIMIT} byte limit" in text
        assert "lacks" not in text  # the tail was kept: the last line is there
        assert "the-end" in text
    assert our_containers(engine, result.pid) == []


def test_a_cmd_flooding_its_log_is_read_within_bounds(
    testrfs: tuple[Project, str], engine: docker.DockerClient, tmp_path: Path
) -> None:
    project, tag = testrfs
    flood_tag = f"{tag}-flood"
    base = engine.containers.create(f"testrfs:{tag}")
    try:
        base.commit(
            "testrfs", flood_tag, changes=[f'CMD ["/bin/sh", "-c", "{FLOOD}; touch /tmp/flooded; exec sleep 1000"]']
        )
    finally:
        base.remove(force=True)
    # the engine's log driver may lag the flood by seconds on a loaded machine: the last line may take a while
    logs = [
        {"name": "last line", "expected": ["the-end"], "timeoutSeconds": 120},
        {"name": "never printed", "expected": ["^nowhere$"]},
    ]
    flooded = "while ! [ -e /tmp/flooded ]; do sleep 0.1; done"
    wait = {"name": "the flood is over", "command": "sh", "args": ["-c", flooded], "timeoutSeconds": 120, "exec": True}
    spec = write_spec(tmp_path / "logs.yaml", [wait], logs)
    try:
        result = project.invoke("smoke", "--image", "testrfs", "--tag", flood_tag, "--spec", str(spec), timeout=300)
    finally:
        engine.images.remove(f"testrfs:{flood_tag}", force=True)
    assert result.returncode == 6, result.stderr
    got = failures(project)
    assert set(got) == {"never printed"}, got
    assert f"in the last {OUTPUT_LIMIT} of " in got["never printed"]
    assert our_containers(engine, result.pid) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("fresh", [False, True], ids=["exec", "fresh"])
def test_an_interrupt_during_a_hanging_check_leaves_nothing(
    sig: signal.Signals, fresh: bool, testrfs: tuple[Project, str], engine: docker.DockerClient, tmp_path: Path
) -> None:
    project, tag = testrfs
    spec = write_spec(
        tmp_path / "hang.yaml", [{"name": "hangs", "command": "sleep", "args": ["1000"], "exec": not fresh}]
    )
    process = project.start("smoke", "--image", "testrfs", "--tag", tag, "--spec", str(spec))
    deadline = time.monotonic() + 30
    while len(our_containers(engine, process.pid)) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # inside the check now
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert our_containers(engine, process.pid) == []
