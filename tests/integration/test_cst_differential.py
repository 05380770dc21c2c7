"""Our smoke specs against container-structure-test itself: generated specs (seeded) and the cases that
once disagreed, each run by CST and by `invoke smoke --spec` on the same local image; every test's
verdict must be the same. ROOTFS_CI_CST_SPECS=N runs N generated specs (default: a few, for .ci/run)."""

from __future__ import annotations

import contextlib
import os
import random
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import pytest
import yaml

from tests.cst_differential import (
    Verdicts,
    cst_containers_removed,
    disagreements,
    remove_with_descendants,
    run_cst,
    run_ours,
)
from tests.cst_images import import_image
from tests.cst_specs import SEED, SPECS_DEFAULT, generate_spec
from tests.helpers import Project, make_project

pytestmark = pytest.mark.docker

REGRESSIONS = Path(__file__).resolve().parent / "cst-regressions.yaml"
SPECS = int(os.environ.get("ROOTFS_CI_CST_SPECS", SPECS_DEFAULT))


@pytest.fixture(scope="module")
def images(
    tmp_path_factory: pytest.TempPathFactory, shared_cache: Path, engine: docker.DockerClient
) -> Iterator[tuple[Project, dict[str, str]]]:
    """Images 'a' and 'b' (tests.cst_images.IMAGES) made from the testrfs rootfs our build writes."""
    project = make_project(tmp_path_factory.mktemp("cst") / "project", shared_cache)
    assert project.invoke("build", "--image", "testrfs").returncode == 0
    rootfs = project.path / "dist" / "testrfs" / "x86_64" / "rootfs.tar"
    tags = {kind: f"cst-{kind}-{uuid.uuid4().hex[:10]}" for kind in ("a", "b")}
    try:
        for kind, tag in tags.items():
            import_image(engine, rootfs, kind, f"testrfs:{tag}")
        yield project, tags
    finally:
        ids = set()
        for tag in tags.values():
            with contextlib.suppress(docker.errors.ImageNotFound):
                ids.add(engine.images.get(f"testrfs:{tag}").id)
        remove_with_descendants(engine, ids)


@pytest.fixture(scope="module")
def outcomes(images: tuple[Project, dict[str, str]], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every spec run by both: CST's runs side by side (each of its command tests starts containers and
    waits), ours one after the other in this project."""
    project, tags = images
    folder = tmp_path_factory.mktemp("specs")
    runs = {"regressions": (tags["a"], REGRESSIONS)}
    for index in range(SPECS):
        rng = random.Random(f"{SEED}-{index}")  # noqa: S311 -- reproducible test data
        spec = folder / f"generated-{index}.yaml"
        spec.write_text(yaml.safe_dump(generate_spec(rng, index), sort_keys=False))
        runs[f"generated-{index}"] = (tags["ab"[index % 2]], spec)
    with cst_containers_removed(f"testrfs:{tag}" for tag in tags.values()), ThreadPoolExecutor(2) as pool:
        theirs = {name: pool.submit(run_cst, f"testrfs:{tag}", spec) for name, (tag, spec) in runs.items()}
        ours = {name: run_ours(project, tag, spec) for name, (tag, spec) in runs.items()}
        return {name: Outcome(theirs[name].result(), ours[name]) for name in runs}


@dataclass
class Outcome:
    cst: Verdicts
    ours: Verdicts


@pytest.mark.parametrize("index", range(SPECS))
def test_generated_specs_get_the_same_verdicts(index: int, outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes[f"generated-{index}"]
    assert len(outcome.cst.by_test) >= 20
    differing = disagreements(outcome.cst, outcome.ours)
    assert not differing, f"seed {SEED}, spec {index} on image {'ab'[index % 2]}:\n" + "\n".join(differing)


def test_the_cases_that_once_disagreed_get_the_same_verdicts(outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["regressions"]
    assert len(outcome.cst.by_test) >= 25
    assert not disagreements(outcome.cst, outcome.ours), "\n".join(disagreements(outcome.cst, outcome.ours))


def test_the_specs_have_passing_and_failing_tests(outcomes: dict[str, Outcome]) -> None:
    """Agreement on all-pass or all-fail specs would prove little: both kinds must be there."""
    verdicts = [passed for outcome in outcomes.values() for passed in outcome.cst.by_test.values()]
    assert 0.2 < sum(verdicts) / len(verdicts) < 0.8, f"{sum(verdicts)} of {len(verdicts)} tests pass"
