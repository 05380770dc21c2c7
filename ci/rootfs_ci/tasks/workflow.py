"""Tasks for CI: matrix and ci-info (what the workflows run), lint (the workflows), publish-index (releases)."""

from __future__ import annotations

import json
import os
import sys

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from rootfs_ci.errors import ConfigError
from rootfs_ci.progress import Progress
from rootfs_ci.tasks.boundary import boundary, emit, settings
from rootfs_ci.tasks.publishing import REGISTRY_HELP
from rootfs_ci.tasks.stages import ARCH_HELP, BACKEND_HELP, IMAGE_HELP


@task(help={"backend": "build every image with this backend: debian or buildroot (default: each image's own)"})
@boundary
def matrix(c: Context, backend: str | None = None) -> None:
    """Print the image x architecture build matrix from invoke.yaml as GitHub's strategy.matrix JSON.

    In GitHub Actions it also sets the step outputs 'matrix' and 'images' (a JSON list of image names).
    """
    from rootfs_ci.github import write_outputs, write_summary
    from rootfs_ci.matrix import build_matrix

    found = build_matrix(settings(c), backend)
    progress = Progress("matrix")
    for reason in found.skipped:
        progress.step(f"left out {reason}")
    if found.skipped:
        write_summary(["Left out of the build matrix:", "", *(f"- {reason}" for reason in found.skipped)], os.environ)
    text = found.as_json()
    write_outputs({"matrix": text, "images": json.dumps(found.images)}, os.environ)
    emit(text)


@task(help={"image": IMAGE_HELP, "arch": ARCH_HELP, "backend": BACKEND_HELP})
@boundary
def ci_info(c: Context, image: str | None = None, arch: str | None = None, backend: str | None = None) -> None:
    """What a CI job needs for one build: where its outputs go and, for Buildroot, what to cache.

    Prints key=value lines; in GitHub Actions they are also step outputs (dist, dist-root, backend,
    cache-key, cache-restore-keys, cache-paths, buildroot-log; the cache ones are empty for debian).
    """
    from rootfs_ci.github import write_outputs
    from rootfs_ci.matrix import job_info

    outputs = job_info(settings(c), image, arch, backend)
    write_outputs(outputs, os.environ)
    for key_name, value in outputs.items():
        emit(f"{key_name}={' '.join(value) if isinstance(value, list) else value}")


def loaded_collection(c: Context) -> Collection:
    """The task tree Invoke loaded for this run (the project's tasks.py), so its own tasks lint too."""
    module = sys.modules.get(c.config.tasks.collection_name)
    if module is None:
        raise ConfigError(
            f"cannot find the task module {c.config.tasks.collection_name!r} Invoke loaded; run lint through invoke"
        )
    return Collection.from_module(module)


@task
@boundary
def lint(c: Context) -> None:
    """Check .github/workflows offline: actionlint, schema, zizmor, pins, reusable calls, invoke tasks and flags."""
    from rootfs_ci.lint import lint as lint_workflows

    project_dir = settings(c).project_dir
    problems = lint_workflows(project_dir, loaded_collection(c))
    if problems:
        emit(*problems)
        raise ConfigError(f"{len(problems)} problem(s) in {project_dir / '.github' / 'workflows'}; see above")
    emit("workflows: actionlint, schema, zizmor, pins, reusable calls and invoke commands are all fine")


@task(
    iterable=["digest"],
    help={
        "image": IMAGE_HELP,
        "registry": REGISTRY_HELP,
        "ref": "git ref of the release (refs/tags/v1.2.3); tags follow rootfs_ci.tags.rules "
        "(default: tag with the CHANGELOG version only)",
        "sha": "git commit of the release (for type=sha tags)",
        "digest": "ARCH=sha256:... of a pushed architecture; repeat it (default: every dist/IMAGE/ARCH/publish.json)",
    },
)
@boundary
def publish_index(
    c: Context,
    image: str | None = None,
    registry: str | None = None,
    ref: str | None = None,
    sha: str | None = None,
    digest: list[str] | None = None,
) -> None:
    """Merge the architectures pushed by digest into one multi-arch image index, then tag the index."""
    from rootfs_ci.publishing.multiarch import publish_index as merge_index
    from rootfs_ci.publishing.policy import resolve_tags

    config = settings(c)
    record = merge_index(config, image, registry, resolve_tags(config, ref, sha), digests=digest or ())
    platforms = ", ".join(f"{m.platform} {m.digest[:19]}..." for m in record.manifests)
    emit(f"published index {record.reference}", f"platforms: {platforms}", f"tags: {' '.join(record.tags)}")


ns = Collection("workflow", matrix, ci_info, lint, publish_index)
