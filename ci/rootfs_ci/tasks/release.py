"""Tasks for versions and tags: release (CHANGELOG.md -> commit + tag) and tags (metadata-action rules)."""

from __future__ import annotations

import os

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from rootfs_ci.errors import ConfigError
from rootfs_ci.tasks.boundary import boundary, emit, settings
from rootfs_ci.version import BUMPS


@task(
    help={
        "bump": f"which part to bump: {', '.join(BUMPS)} (prerelease gives X.Y.Z-rc.N)",
        "dry_run": "print the new version and section; change nothing",
    }
)
@boundary
def release(c: Context, bump: str | None = None, dry_run: bool = False) -> None:
    """Release: move CHANGELOG.md's [Unreleased] notes to a dated version, commit it, tag vX.Y.Z."""
    from rootfs_ci.release import (
        apply_release,
        describe,
        plan_release,
    )

    if bump is None:
        raise ConfigError(f"--bump is required: one of {', '.join(BUMPS)}")
    config = settings(c)
    plan = plan_release(config.project_dir, bump)
    if dry_run:
        emit(*describe(plan))
        return
    commit = apply_release(plan)
    emit(f"released {plan.tag}: commit {commit[:12]}, annotated tag {plan.tag}", "push it: git push --follow-tags")


@task(
    iterable=["rule", "flavor"],
    help={
        "ref": "refs/tags/v1.2.3, refs/heads/BRANCH or refs/pull/N/merge (default: GITHUB_REF, else HEAD's branch)",
        "sha": "commit id (default: GITHUB_SHA, else HEAD)",
        "rule": "a metadata-action tag rule, e.g. type=raw,value=v01; repeat it; replaces rootfs_ci.tags.rules",
        "flavor": "a metadata-action flavor line, e.g. latest=false; repeat it; replaces rootfs_ci.tags.flavor",
        "default_branch": "the repository's default branch, for type=edge and {{is_default_branch}} (default: main)",
    },
)
@boundary
def tags(
    c: Context,
    ref: str | None = None,
    sha: str | None = None,
    rule: list[str] | None = None,
    flavor: list[str] | None = None,
    default_branch: str | None = None,
) -> None:
    """Print the image tags for a ref and commit, one per line, in metadata-action's order."""
    from rootfs_ci.tags import (
        compute_tags,
        current_ref,
        current_sha,
    )

    config = settings(c)
    emit(
        *compute_tags(
            ref or current_ref(config.project_dir, os.environ),
            sha if sha is not None else current_sha(config.project_dir, os.environ),
            rule or config.config.tags.rules,
            flavor or config.config.tags.flavor,
            default_branch or "main",
        )
    )


ns = Collection("release", tags)
ns.add_task(release, default=True)
