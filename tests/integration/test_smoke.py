"""Smoke runs against the real engine: both images pass, broken ones fail loudly, nothing is left behind."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import time
import uuid
from pathlib import Path

import docker
import pytest

from rootfs_ci import labels
from rootfs_ci.smoke.runtime import engine_time, stop_signal_time
from tests.cst_differential import cst_containers_removed, run_cst
from tests.helpers import Project, engine_state, make_project

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def module_project(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path) -> Project:
    return make_project(tmp_path_factory.mktemp("smoke") / "project", shared_cache)


@pytest.fixture(scope="module")
def good_images(module_project: Project, engine: docker.DockerClient):
    """apacheinit and testrfs built and loaded once for this module, under a unique tag."""
    tag = f"test-{uuid.uuid4().hex[:10]}"
    for image in ("apacheinit", "testrfs"):
        result = module_project.invoke("build", "--image", image)
        assert result.returncode == 0, result.stderr
        result = module_project.invoke("image", "--image", image, "--tag", tag)
        assert result.returncode == 0, result.stderr
    yield tag
    for image in ("apacheinit", "testrfs"):
        engine.images.remove(f"{image}:{tag}", force=True)


def our_containers(client: docker.DockerClient, pid: int | None = None) -> list[str]:
    """Containers of smoke runs that are over (or of the run with this pid); other sessions' live runs
    on the same engine are not ours to count."""
    found = client.containers.list(all=True, sparse=True, filters={"label": labels.RUN})
    found_labels = [(c.attrs["Names"][0].lstrip("/"), c.attrs.get("Labels") or {}) for c in found]
    if pid is not None:
        return [name for name, tags in found_labels if tags.get(labels.PID) == str(pid)]
    return [name for name, tags in found_labels if not labels.owner_alive(tags)]


@pytest.mark.parametrize("image", ["apacheinit", "testrfs"])
def test_smoke_passes_and_reports_every_check(
    image: str, module_project: Project, good_images: str, engine: docker.DockerClient, tmp_path: Path
) -> None:
    junit = tmp_path / "junit.xml"
    summary = tmp_path / "summary.md"
    result = module_project.invoke(
        "smoke",
        "--image",
        image,
        "--tag",
        good_images,
        "--junit",
        str(junit),
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert result.returncode == 0, result.stderr
    record = json.loads((module_project.path / "dist" / image / "x86_64" / "smoke.json").read_text())
    assert record["passed"] is True
    assert record["image_id"] == engine.images.get(f"{image}:{good_images}").id
    names = [f"{c['section']}: {c['name']}" for c in record["checks"]]
    for name in names:  # every check is listed on the console with its time
        assert any(
            line.strip().startswith("PASS") and name in line and line.rstrip().endswith("s")
            for line in result.stderr.splitlines()
        ), name
    assert f"{len(names)} passed, 0 failed" in result.stderr
    assert "hostKernel: uname -r is the host's kernel" in names
    assert junit.read_text().count("<testcase") == len(names)
    assert 'failures="0"' in junit.read_text()
    assert f"({len(names)}/{len(names)})" in summary.read_text()
    assert our_containers(engine) == []
    if image == "apacheinit":
        assert record["manifest_digest"].startswith("sha256:")
        for expected in (
            "http: the recipe's page is served",
            "stop: graceful docker stop",
            "interactive: docker run -it gives the recipe's shell with httpd running",
            "processes: httpd workers are unprivileged",
            "commandTests: slotmem_shm is loaded (httpd -M)",
        ):
            assert expected in names


def broken_project(tmp_path: Path, shared_cache: Path, name: str, edit) -> Project:
    project = make_project(tmp_path / name, shared_cache)
    edit(project.path / "overlay")
    return project


def without_slotmem_fix(overlay: Path) -> None:
    conf = overlay / "etc/apache2/httpd.conf"
    text = conf.read_text()
    assert "\nLoadModule slotmem_shm_module" in text
    conf.write_text(text.replace("\nLoadModule slotmem_shm_module", "\n#LoadModule slotmem_shm_module"))


def start_sh_exits_at_once(overlay: Path) -> None:
    (overlay / "bin/start.sh").write_text("#!/bin/sh\necho 'start.sh: nothing to do' >&2\nexit 3\n")


@pytest.mark.parametrize(
    ("edit", "failing_check", "log_line"),
    [
        (without_slotmem_fix, "commandTests: slotmem_shm is loaded (httpd -M)", "AH00489"),  # httpd's startup notice
        (start_sh_exits_at_once, "container: starts and is ready", "start.sh: nothing to do"),
    ],
    ids=["httpd.conf without the slotmem fix", "start.sh exits at once"],
)
def test_broken_images_fail_naming_the_check_with_logs(
    edit,
    failing_check: str,
    log_line: str,
    tmp_path: Path,
    shared_cache: Path,
    engine: docker.DockerClient,
    unique_tag: str,
) -> None:
    project = broken_project(tmp_path, shared_cache, "broken", edit)
    assert project.invoke("build").returncode == 0
    assert project.invoke("image", "--tag", unique_tag).returncode == 0
    try:
        result = project.invoke("smoke", "--tag", unique_tag)
    finally:
        engine.images.remove(f"apacheinit:{unique_tag}", force=True)
    assert result.returncode == 6, result.stderr
    assert "Traceback" not in result.stderr
    assert f"FAILED {failing_check}" in result.stderr
    assert "  expected: " in result.stderr and "  got:      " in result.stderr
    assert "container log (last lines):" in result.stderr
    assert log_line in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("rootfs-ci: error: ")
    assert failing_check in result.stderr.rstrip().splitlines()[-1]
    record = json.loads((project.path / "dist/apacheinit/x86_64/smoke.json").read_text())
    assert record["passed"] is False
    assert our_containers(engine) == []


def test_failing_and_interrupted_runs_leave_nothing(
    tmp_path: Path, shared_cache: Path, engine: docker.DockerClient, unique_tag: str
) -> None:
    """5 failing runs and 3 interrupted ones (SIGINT, SIGTERM twice, at different moments); bench/leaks.py
    cycles 50."""
    project = broken_project(tmp_path, shared_cache, "leaky", start_sh_exits_at_once)
    broken_tag = f"{unique_tag}-broken"  # its own tag: the good image must not leave it untagged behind
    assert project.invoke("build").returncode == 0
    assert project.invoke("image", "--tag", broken_tag).returncode == 0
    try:
        for _ in range(5):
            result = project.invoke("smoke", "--tag", broken_tag)
            assert result.returncode == 6, result.stderr
        good = make_project(tmp_path / "good", shared_cache)
        assert good.invoke("build").returncode == 0
        assert good.invoke("image", "--tag", unique_tag).returncode == 0
        for sig, wait_for in ((signal.SIGINT, 1), (signal.SIGTERM, 1), (signal.SIGTERM, 2)):
            process = good.start("smoke", "--tag", unique_tag)
            deadline = time.monotonic() + 30
            while len(our_containers(engine, process.pid)) < wait_for and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(our_containers(engine, process.pid)) >= wait_for, "the smoke run did not start its containers"
            process.send_signal(sig)
            _, stderr = process.communicate(timeout=60)
            assert process.returncode == 130, stderr
            assert "rootfs-ci: error: interrupted" in stderr
            assert "Traceback" not in stderr
            assert our_containers(engine, process.pid) == []
    finally:
        for tag in (broken_tag, unique_tag):
            with contextlib.suppress(docker.errors.ImageNotFound):
                engine.images.remove(f"apacheinit:{tag}", force=True)
    assert our_containers(engine) == []  # no container of a finished run
    # smoke makes no images: once the test's own tag is gone, no tag of this run is left
    assert {tag for tag in engine_state(engine)[1] if unique_tag in tag} == set()
    assert len(engine.images.list(filters={"label": "org.rootfs-ci.run"})) == 0


def test_clean_removes_leftovers_of_dead_runs_only(
    project: Project, engine: docker.DockerClient, good_images: str
) -> None:
    dead = engine.containers.create(
        f"testrfs:{good_images}",
        labels={labels.RUN: "dead", labels.PID: "999999999", labels.HOST: labels.socket.gethostname()},
    )
    alive = engine.containers.create(f"testrfs:{good_images}", labels=labels.run_labels("alive"))
    try:
        result = project.invoke("clean")
        assert result.returncode == 0, result.stderr
        assert f"removed 1 leftover container(s): {dead.name}" in result.stdout
        remaining = [c.name for c in engine.containers.list(all=True, filters={"label": labels.RUN})]
        assert alive.name in remaining
        assert dead.name not in remaining
    finally:
        for container in (dead, alive):
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)


def test_apacheinit_runs_hardened(module_project: Project, good_images: str, engine: docker.DockerClient) -> None:
    """--read-only, tmpfs /tmp, --cap-drop ALL --cap-add NET_BIND_SERVICE, --user www-data."""
    spec = Path(__file__).resolve().parent / "apacheinit-hardened.yaml"
    result = module_project.invoke("smoke", "--image", "apacheinit", "--tag", good_images, "--spec", str(spec))
    assert result.returncode == 0, result.stderr
    assert "processes: nothing runs as root" in result.stderr
    assert "commandTests: the root file system is read-only" in result.stderr
    assert our_containers(engine) == []


@pytest.mark.parametrize("image", ["apacheinit", "testrfs"])
def test_the_exported_cst_part_passes_under_cst_itself(
    image: str, module_project: Project, good_images: str, tmp_path: Path
) -> None:
    """`invoke smoke --export-cst` gives container-structure-test a file it accepts and passes."""
    exported = tmp_path / f"{image}-cst.yaml"
    result = module_project.invoke("smoke", "--image", image, "--export-cst", str(exported))
    assert result.returncode == 0, result.stderr
    assert f"to {exported}" in result.stdout
    with cst_containers_removed([f"{image}:{good_images}"]):
        verdicts = run_cst(f"{image}:{good_images}", exported)
    assert len(verdicts.by_test) >= 5
    assert all(verdicts.by_test.values()), verdicts.details


def test_processes_checks_wait_for_the_table_to_match(
    module_project: Project, good_images: str, engine: docker.DockerClient, tmp_path: Path
) -> None:
    """A CMD's workers start (and drop root) after it is running: a processes check reads the table
    again until it matches, up to its timeoutSeconds, and fails with the last table after that."""
    reference = f"testrfs:{good_images}-late-worker"
    (tmp_path / "Dockerfile").write_text(f'FROM testrfs:{good_images}\nCMD ["sh", "-c", "sleep 3; exec sleep 42"]\n')
    engine.images.build(path=str(tmp_path), tag=reference, rm=True)
    try:
        for seconds, exit_code in ((15, 0), (0.5, 6)):
            spec = tmp_path / f"late-{seconds}.yaml"
            spec.write_text(
                "schemaVersion: 2.0.0\nprocesses:\n  - name: the late worker runs\n"
                f"    command: '^sleep 42$'\n    timeoutSeconds: {seconds}\n"
            )
            result = module_project.invoke("smoke", "--image", "testrfs", "--tag", reference, "--spec", str(spec))
            assert result.returncode == exit_code, result.stderr
            verdict = "PASS" if exit_code == 0 else "FAIL"
            assert f"{verdict}  processes: the late worker runs" in result.stderr
        assert "0 processes match" in result.stderr  # the failure shows the table it last read
    finally:
        engine.images.remove(reference, force=True)
    assert our_containers(engine) == []


def test_stop_is_timed_from_the_engines_stop_signal(
    module_project: Project, good_images: str, engine: docker.DockerClient, tmp_path: Path
) -> None:
    """The stop check counts from the engine's kill event to the exit it records (one clock, the
    engine's), as docker stop's own timeout does: a CMD that takes 1.5 s to honour TERM passes a 3 s
    limit and fails a 1 s one; a container that exits by itself has no stop signal to count from."""
    reference = f"testrfs:{good_images}-slow-stop"
    slow = "trap 'sleep 1.5; exit 0' TERM; while :; do sleep 0.1; done"
    (tmp_path / "Dockerfile").write_text(f'FROM testrfs:{good_images}\nCMD ["sh", "-c", "{slow}"]\n')
    engine.images.build(path=str(tmp_path), tag=reference, rm=True)
    try:
        container = engine.containers.run(reference, detach=True)
        try:
            requested = time.time()
            container.stop(timeout=10)
            container.reload()
            state = container.attrs["State"]
            signalled = stop_signal_time(container, state)
            assert signalled is not None
            assert requested - 0.05 <= signalled <= engine_time(state["FinishedAt"]) - 1.5
        finally:
            container.remove(force=True)
        exited = engine.containers.run(reference, command=["true"], detach=True)
        try:
            exited.wait(timeout=30)
            exited.reload()
            assert stop_signal_time(exited, exited.attrs["State"]) is None
        finally:
            exited.remove(force=True)
        for seconds, exit_code in ((3, 0), (1, 6)):
            spec = tmp_path / f"stop-{seconds}.yaml"
            spec.write_text(f"schemaVersion: 2.0.0\nstop:\n  maxSeconds: {seconds}\n  exitCode: 0\n")
            result = module_project.invoke("smoke", "--image", "testrfs", "--tag", reference, "--spec", str(spec))
            assert result.returncode == exit_code, result.stderr
            record = json.loads((module_project.path / "dist" / "testrfs" / "x86_64" / "smoke.json").read_text())
            (stop,) = [check for check in record["checks"] if check["section"] == "stop"]
            assert stop["passed"] is (exit_code == 0)
            got = r"exited 1\.\d\ds after the stop signal \(docker stop took \d+\.\d\ds\), exit 0"
            assert re.fullmatch(got, stop["got"]), stop["got"]
    finally:
        engine.images.remove(reference, force=True)
    assert our_containers(engine) == []
