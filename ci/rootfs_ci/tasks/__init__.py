"""Invoke collections other projects compose, in the manner of pyinvoke/invocations.

Everything, with rootfs-ci's usual task names::

    ns = rootfs_ci.tasks.namespace(Path(__file__).resolve().parent)

À la carte: every module here has its own ``ns`` collection (stages, lock, smoke, publishing, release,
workflow, diff, registry, qemu, buildroot). Add the ones you want, next to your own tasks and other
libraries' collections, then point them at your project::

    from invoke import Collection
    from rootfs_ci.tasks import configure, smoke, stages

    ns = Collection(stages.ns, smoke.ns, my_task)
    configure(ns, Path(__file__).resolve().parent)

Name clashes follow Invoke: a task added under a name that is already a task replaces it (last one
wins); a task and a sub-collection with the same name raise ValueError when tasks.py is loaded.
"""

from __future__ import annotations

import sys
from pathlib import Path

from invoke.collection import Collection

from rootfs_ci.config.keys import NAMESPACE
from rootfs_ci.errors import ConfigError
from rootfs_ci.tasks import buildroot, diff, lock, publishing, qemu, registry, release, smoke, stages, workflow

__all__ = [
    "buildroot",
    "configure",
    "diff",
    "lock",
    "namespace",
    "publishing",
    "qemu",
    "registry",
    "release",
    "smoke",
    "stages",
    "workflow",
]

# Their tasks sit at the top of namespace(): invoke build, invoke smoke, invoke publish, ...
TOP_LEVEL = (stages.ns, lock.ns, smoke.ns, publishing.ns, release.ns, workflow.ns, diff.ns)
# These stay collections: invoke registry.up, invoke qemu.setup, invoke buildroot.check.
NESTED = (registry.ns, qemu.ns, buildroot.ns)


def configure(ns: Collection, project_dir: Path) -> Collection:
    """Point ``ns`` at the project whose invoke.yaml, overlays and specs live in ``project_dir``."""
    from rootfs_ci.config.preflight import preflight

    try:
        preflight(project_dir)
    except ConfigError as exc:
        # Invoke reads invoke.yaml after loading tasks.py and would print a traceback.
        print(f"rootfs-ci: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    ns.configure({NAMESPACE: {"project_dir": str(project_dir)}})
    return ns


def namespace(project_dir: Path) -> Collection:
    """Every rootfs-ci task for the project in ``project_dir``, under its usual name."""
    ns = Collection()
    for collection in TOP_LEVEL:
        for name, task in collection.tasks.items():
            ns.add_task(task, name=name)
    for collection in NESTED:
        ns.add_collection(collection)
    return configure(ns, project_dir)
