"""Invoke collections other projects can reuse: ``ns = rootfs_ci.tasks.namespace(Path(__file__).parent)``."""

from __future__ import annotations

import sys
from pathlib import Path

from invoke.collection import Collection
from invoke.config import Config

from rootfs_ci.config import NAMESPACE, preflight
from rootfs_ci.errors import ConfigError
from rootfs_ci.tasks import buildroot, qemu, registry, release, smoke, stages, workflow


def namespace(project_dir: Path) -> Collection:
    """The task tree for a project whose invoke.yaml, buildroot-config/ and overlay/ live in ``project_dir``."""
    try:
        preflight(project_dir, set(Config.global_defaults()) | {NAMESPACE})
    except ConfigError as exc:
        # Invoke reads invoke.yaml after loading tasks.py and would print a traceback.
        print(f"rootfs-ci: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    ns = stages.collection()
    # Other modules' collections are added here, one line each (ns.add_collection / ns.add_task).
    for smoke_task in smoke.TASKS:
        ns.add_task(smoke_task)
    ns.add_collection(qemu.collection())
    registry.install(ns)
    for release_task in release.TASKS:
        ns.add_task(release_task)
    ns.add_collection(buildroot.collection())
    workflow.install(ns)
    ns.configure({NAMESPACE: {"project_dir": str(project_dir)}})
    return ns
