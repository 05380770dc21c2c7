"""``smoke`` stage: run the image's own CMD, check it against its spec, report, record, clean up."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import docker
import requests
from docker.errors import DockerException, ImageNotFound
from docker.models.images import Image
from docker.types import LogConfig

from rootfs_ci.config import NAMESPACE, Settings
from rootfs_ci.engine import connect
from rootfs_ci.errors import ConfigError, EngineError, SmokeFailure
from rootfs_ci.github import write_summary
from rootfs_ci.progress import Progress
from rootfs_ci.qemu import require_emulation
from rootfs_ci.records import CheckResult, ImageRecord, SmokeRecord, read_record, stage_dir, write_record
from rootfs_ci.smoke import checks, plan, runtime
from rootfs_ci.smoke.containers import run_containers_with_workers
from rootfs_ci.smoke.report import print_failures, print_table, step_summary, write_junit
from rootfs_ci.smoke.spec import Spec, load_spec

LOG_TAIL = 30
# The engine keeps at most this much of the CMD's output on disk, however much it prints.
ROTATED_LOGS = LogConfig(type=LogConfig.types.JSON, config={"max-size": "8m", "max-file": "2"})


def resolve_spec(settings: Settings, name: str, spec_file: Path | None = None) -> Path:
    """``spec_file``, else the image's configured spec, which must exist (checked before any build work)."""
    if spec_file is not None:
        return spec_file
    configured = settings.smoke_spec(name)
    if not configured.is_file():
        raise ConfigError(
            f"smoke spec {configured} does not exist; write it, set {NAMESPACE}.images.{name}.smoke_spec "
            "to where it is, or pass --spec"
        )
    return configured


def _image(client: docker.DockerClient, reference: str, name: str) -> Image:
    try:
        return client.images.get(reference)
    except ImageNotFound:
        raise ConfigError(f"image {reference} is not in the engine; run 'invoke image --image {name}' first") from None
    except DockerException as exc:
        raise EngineError(f"cannot inspect {reference}: {exc}") from None


def _image_record(
    settings: Settings, name: str, arch: str, image: Image, given: ImageRecord | None
) -> ImageRecord | None:
    """The image record (``given``, else image.json) if it is of exactly this image (by image ID or
    registry digest): a smoke run of another image under the same tag has none."""
    record = given
    if record is None:
        path = stage_dir(settings.dist_dir, name, arch) / ImageRecord.FILE
        if not path.exists():
            return None
        record = read_record(path, ImageRecord, f"invoke image --image {name} --arch {arch}")
    digests = {image.id} | {digest.rpartition("@")[2] for digest in image.attrs.get("RepoDigests") or []}
    return record if digests & {record.image_id, record.manifest_digest} else None


def _run_options(spec: Spec) -> dict[str, Any]:
    options: dict[str, Any] = {
        "read_only": spec.container.readOnly,
        "tmpfs": dict(spec.container.tmpfs),
        "cap_drop": list(spec.container.capDrop),
        "cap_add": list(spec.container.capAdd),
    }
    if spec.container.user:
        options["user"] = spec.container.user
    return options


def _wait_ready(target: checks.Target, spec: Spec) -> checks.Outcome:
    """Running, and answering HTTP on the first probed port when the spec probes HTTP."""
    container = target.running()
    port = target.host_port(spec.http[0].port) if spec.http else None
    deadline = time.monotonic() + spec.container.readinessTimeout
    while True:
        container.reload()
        state = container.attrs["State"]
        if state["Status"] in ("exited", "dead"):
            return False, "container running", f"container exited with code {state['ExitCode']} before it was ready"
        if state["Status"] == "running":
            if port is None:
                return True, "container running", "running"
            try:
                requests.get(f"http://127.0.0.1:{port}/", timeout=1)
                return True, f"HTTP answers on 127.0.0.1:{port}", "answered"
            except requests.RequestException:
                pass
        if time.monotonic() > deadline:
            return (
                False,
                f"ready within {spec.container.readinessTimeout:.0f}s",
                f"not ready (status {state['Status']})",
            )
        time.sleep(0.05)


def _start(target: checks.Target, spec: Spec) -> None:
    exposed = target.image.attrs.get("Config", {}).get("ExposedPorts") or {}
    ports = {key: ("127.0.0.1", None) for key in exposed}  # the engine picks a free loopback port
    container = target.containers.create(
        target.reference,
        detach=True,
        ports=ports,
        stdin_open=spec.container.stdinOpen,
        log_config=ROTATED_LOGS,
        **target.run_options,
    )
    container.start()
    container.reload()
    target.container = container
    for key, bindings in (container.ports or {}).items():
        if bindings:
            target.host_ports[int(key.split("/")[0])] = int(bindings[0]["HostPort"])


def run_smoke(
    settings: Settings,
    image_name: str | None,
    arch: str | None,
    tag: str | None,
    spec_file: Path | None = None,
    junit: Path | None = None,
    record_name: str = SmokeRecord.FILE,
    stream: TextIO | None = None,
    image_record: ImageRecord | None = None,
) -> SmokeRecord:
    """Run the spec against IMAGE:TAG; write the record; raise SmokeFailure naming failed checks.

    ``image_record`` is the image stage's record when the caller has it (the pipeline), else image.json
    is read; either only counts when it is of the image under test."""
    stream = stream or sys.stderr
    name, image_config = settings.image(image_name)
    arch = settings.arch(image_config, arch)
    reference = settings.local_reference(name, arch, tag)
    spec = load_spec(resolve_spec(settings, name, spec_file))
    progress = Progress("smoke", reference)
    require_emulation(arch)
    client = connect()
    image = _image(client, reference, name)
    image_record = _image_record(settings, name, arch, image, image_record)

    results: list[CheckResult] = []
    if spec.metadataTest:
        results += checks.metadata_checks(spec.metadataTest, image)
    if spec.sizeBudget:
        rootfs_bytes = image_record.rootfs_size if image_record else None
        layer_bytes = image_record.layer.size if image_record else None
        results += checks.size_checks(spec.sizeBudget, rootfs_bytes, layer_bytes)
    container_results, logs = _container_checks(client, image, reference, spec, progress)
    results += container_results
    passed = all(result.passed for result in results)
    _report(results, logs, stream, junit, name, arch, reference)
    record = SmokeRecord(
        image=name,
        arch=arch,
        reference=reference,
        image_id=image.id,
        manifest_digest=image_record.manifest_digest if image_record else None,
        passed=passed,
        checks=tuple(results),
    )
    write_record(stage_dir(settings.dist_dir, name, arch) / record_name, record)
    if not passed:
        failed = [f"{r.section}: {r.name}" for r in results if not r.passed]
        raise SmokeFailure(f"{len(failed)} of {len(results)} checks failed for {reference}: {'; '.join(failed)}")
    return record


def _container_checks(
    client: docker.DockerClient, image: Image, reference: str, spec: Spec, progress: Progress
) -> tuple[list[CheckResult], str]:
    """Start the image's CMD and run the spec's runtime checks on it; (results, the end of its log)."""
    results: list[CheckResult] = []
    logs = ""
    with run_containers_with_workers(client, plan.WORKERS, "smoke") as (containers, pool):
        target = checks.Target(image, reference, containers, _run_options(spec), global_env=spec.globalEnvVars)
        planned = plan.plan(spec, target, client)
        own_containers = plan.start(pool, planned, plan.Wave.OWN_CONTAINER)
        ready = True
        if spec.needs_cmd_container():  # CST's checks alone do not run the image's CMD
            started = checks.timed("container", "starts and is ready", lambda: _start_and_wait(target, spec))
            results.append(started)
            progress.step(f"container {'ready' if started.passed else 'NOT ready'} after {started.seconds:.2f}s")
            ready = started.passed
        if ready:
            waves = [own_containers]
            for wave in (plan.Wave.PROCESS_TABLE, plan.Wave.INSPECT, plan.Wave.LOGS):
                waves.append(plan.start(pool, planned, wave))
                plan.finish(waves[-1])
            results += plan.finish(*waves)
        if target.container is not None:
            logs = runtime.container_logs(target, time.monotonic() + checks.LOG_WAIT, LOG_TAIL).text()
            if ready and spec.stop:
                results.append(runtime.stop_check(spec.stop, target))
    return results, logs


def _report(
    results: list[CheckResult], logs: str, stream: TextIO, junit: Path | None, name: str, arch: str, reference: str
) -> None:
    """The table (and the failures with the log's end) on ``stream``, JUnit XML, the GitHub step summary."""
    print_table(results, stream)
    if not all(result.passed for result in results):
        print_failures(results, logs, stream)
    if junit is not None:
        write_junit(junit, f"smoke.{name}.{arch}", results)
    write_summary(step_summary(f"{name}/{arch} ({reference})", results), os.environ)


def _start_and_wait(target: checks.Target, spec: Spec) -> checks.Outcome:
    _start(target, spec)
    return _wait_ready(target, spec)
