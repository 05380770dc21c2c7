"""``invoke diff``: the current build of an image against a published, local or engine image."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path

from rootfs_ci.config import Settings
from rootfs_ci.diff.compare import Checks, compare
from rootfs_ci.diff.model import DiffReport
from rootfs_ci.diff.side import Side
from rootfs_ci.diff.sources import Against, find_stage, local_side, parse_against
from rootfs_ci.diff.tree import read_tree
from rootfs_ci.fsutil import shown
from rootfs_ci.records import stage_dir
from rootfs_ci.validation import load_yaml


def _number(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def smoke_checks(settings: Settings, name: str) -> Checks:
    """The size budget and tested paths of the image's smoke spec (none when it has no spec).

    Read from the YAML as is, not through rootfs_ci.smoke.spec, whose package loads the docker SDK
    (a third of a diff's time); these are only warnings, and 'invoke smoke' validates the whole spec.
    """
    path = settings.smoke_spec(name)
    spec = load_yaml(path) if path.is_file() else None
    if not isinstance(spec, dict):
        return Checks()
    budget = spec.get("sizeBudget")
    budget = budget if isinstance(budget, dict) else {}
    existence = [test for test in spec.get("fileExistenceTests") or () if isinstance(test, dict)]
    content = [test for test in spec.get("fileContentTests") or () if isinstance(test, dict)]
    tested = [test.get("path") for test in existence if test.get("shouldExist", True) is not False]
    tested += [test.get("path") for test in content]
    return Checks(
        rootfs_budget=_number(budget.get("rootfsBytes")),
        layer_budget=_number(budget.get("layerBytes")),
        tested_paths=tuple(sorted({path for path in tested if isinstance(path, str)})),
    )


def _before(
    settings: Settings,
    against: Against,
    name: str,
    arch: str,
    registry: str | None,
    stack: contextlib.ExitStack,
    environ: Mapping[str, str],
) -> Side:
    if against.kind == "local":
        path = Path(os.path.expanduser(against.reference))
        stage = find_stage(path, name, arch)
        return local_side(stage, shown(stage, settings.project_dir))
    if against.kind == "engine":
        from rootfs_ci.diff.engine import engine_side  # noqa: PLC0415 (the docker SDK)

        return engine_side(against.reference, stack, stage_dir(settings.dist_dir, name, arch) / "sbom.json")
    from rootfs_ci.diff.remote import registry_side, resolve_reference  # noqa: PLC0415 (requests)
    from rootfs_ci.registry.client import open_client  # noqa: PLC0415
    from rootfs_ci.registry.repository import Repository  # noqa: PLC0415
    from rootfs_ci.registry.target import parse_target  # noqa: PLC0415

    target = parse_target(against.registry or registry or settings.config.registry.target)
    repository_name = against.repository or target.repository(name)
    client = stack.enter_context(open_client(target, environ))
    repository = Repository(client, repository_name)
    return registry_side(repository, resolve_reference(repository, against.reference), arch)


def diff_image(
    settings: Settings,
    image: str | None,
    arch: str | None,
    against: str | None,
    registry: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> DiffReport:
    """Compare dist/IMAGE/ARCH (the current build) with what ``against`` names (see diff.sources)."""
    environ = os.environ if environ is None else environ
    name, image_config = settings.image(image)
    arch = settings.arch(image_config, arch)
    parsed = parse_against(against)
    stage = stage_dir(settings.dist_dir, name, arch)
    after = local_side(stage, shown(stage, settings.project_dir))
    checks = smoke_checks(settings, name)
    with contextlib.ExitStack() as stack:
        before = _before(settings, parsed, name, arch, registry, stack, environ)
        after_tree, after_size = read_tree(after.layers, after.label)
        if before.diff_ids == after.diff_ids:
            before_tree, before_size = after_tree, after_size  # same layers: same tree, not read twice
        else:
            before_tree, before_size = read_tree(before.layers, before.label)
    return compare(name, arch, before, after, (before_tree, after_tree), (before_size, after_size), checks)
