"""Compare two file trees, two package lists, two configs and two sizes into one DiffReport."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rootfs_ci.diff.model import DiffReport, DirSummary, Entry, FileChange, Packages, SizeChange, changed_fields
from rootfs_ci.diff.packages import diff_packages, sbom_packages
from rootfs_ci.diff.side import Side

# Runtime settings of the image config: a change here changes what the container does.
RUNTIME_KEYS = ("Cmd", "Entrypoint", "Env", "ExposedPorts", "User", "WorkingDir", "Volumes", "StopSignal")


@dataclass(frozen=True)
class Checks:
    """What the image's smoke spec guards: the size budget and the files it tests."""

    rootfs_budget: int | None = None
    layer_budget: int | None = None
    tested_paths: tuple[str, ...] = ()


def diff_trees(before: Mapping[str, Entry], after: Mapping[str, Entry]) -> tuple[FileChange, ...]:
    changes = []
    for path in sorted(before.keys() | after.keys()):
        old, new = before.get(path), after.get(path)
        if old is None:
            changes.append(FileChange(path, "added", None, new))
        elif new is None:
            changes.append(FileChange(path, "removed", old, None))
        elif fields := changed_fields(old, new):
            changes.append(FileChange(path, "changed", old, new, fields))
    return tuple(changes)


def top_directory(change: FileChange) -> str:
    """The top-level directory a change is under (a top-level directory is under itself); '/' for root files."""
    parts = change.path.strip("/").split("/")
    entry = change.after or change.before
    return "/" + parts[0] if len(parts) > 1 or (entry is not None and entry.kind == "dir") else "/"


def summarise(changes: Iterable[FileChange]) -> tuple[DirSummary, ...]:
    counts: dict[str, dict[str, int]] = {}
    for change in changes:
        row = counts.setdefault(top_directory(change), {"added": 0, "removed": 0, "changed": 0, "size_delta": 0})
        row[change.change] += 1
        row["size_delta"] += change.size_delta
    return tuple(DirSummary(directory, **row) for directory, row in sorted(counts.items()))


def diff_config(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[str, ...]:
    """Image config keys that differ: architecture, runtime settings, then each label by name."""
    old, new = before.get("config") or {}, after.get("config") or {}
    keys = [key for key in ("architecture", "variant", "os") if before.get(key) != after.get(key)]
    keys += [key for key in RUNTIME_KEYS if old.get(key) != new.get(key)]
    old_labels, new_labels = old.get("Labels") or {}, new.get("Labels") or {}
    keys += [
        f"Labels.{name}"
        for name in sorted(old_labels.keys() | new_labels.keys())
        if old_labels.get(name) != new_labels.get(name)
    ]
    return tuple(keys)


def _packages(side: Side) -> dict[str, str] | None:
    return sbom_packages(side.sbom) if side.sbom is not None else None


def package_diff(before: Side, after: Side) -> Packages:
    old, new = _packages(before), _packages(after)
    if old is None or new is None:
        missing = tuple(
            f"{side.label}: {side.sbom_note or 'its SBOM is not CycloneDX JSON'}"
            for side, packages in ((before, old), (after, new))
            if packages is None
        )
        return Packages((), missing)
    return Packages(diff_packages(old, new), ())


def _warnings(checks: Checks, sizes: tuple[SizeChange, ...], files: tuple[FileChange, ...]) -> tuple[str, ...]:
    found = []
    budgets = ((checks.rootfs_budget, "rootfsBytes"), (checks.layer_budget, "layerBytes"))
    for size, (budget, key) in zip(sizes, budgets, strict=True):
        if budget is not None and size.after is not None and size.after > budget:
            found.append(f"size budget exceeded: {size.what} is {size.after} bytes, over sizeBudget.{key} {budget}")
    tested = set(checks.tested_paths)
    found += [
        f"smoke-tested file removed: {change.path}"
        for change in files
        if change.change == "removed" and change.path in tested
    ]
    return tuple(found)


def compare(
    image: str,
    arch: str,
    before: Side,
    after: Side,
    trees: tuple[Mapping[str, Entry], Mapping[str, Entry]],
    rootfs_sizes: tuple[int, int],
    checks: Checks,
) -> DiffReport:
    files = diff_trees(*trees)
    sizes = (
        SizeChange("rootfs", *rootfs_sizes),
        SizeChange("compressed layer", before.layer_bytes, after.layer_bytes),
    )
    packages = package_diff(before, after)
    config = diff_config(before.config, after.config)
    runtime = [key for key in config if not key.startswith("Labels.")]
    return DiffReport(
        image=image,
        arch=arch,
        before=before.label,
        after=after.label,
        before_digest=before.manifest_digest,
        after_digest=after.manifest_digest,
        identical=not files and not packages.changes and not runtime and before.diff_ids == after.diff_ids,
        warnings=_warnings(checks, sizes, files),
        sizes=sizes,
        files=files,
        directories=summarise(files),
        packages=packages,
        config=config,
    )
