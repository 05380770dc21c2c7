"""The artifact store behind the upload-artifact and download-artifact stand-ins (act runs only).

Stdlib only: it runs under whatever python3 the job has. Artifacts live in ROOTFS_CI_ACT_ARTIFACTS/NAME.
upload keeps each file's path below the least common ancestor of the search paths (for a wildcard
path: the directory before its first wildcard), as the real action does; download copies one
artifact, or every one matching a pattern (each into its own directory unless merge-multiple).
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
from fnmatch import fnmatchcase
from pathlib import Path


def matches(pattern: str, workspace: Path) -> tuple[list[Path], Path | None]:
    parts = Path(pattern).parts
    wildcard = next((i for i, part in enumerate(parts) if any(c in part for c in "*?[")), None)
    if wildcard is not None:
        found = [Path(p) for p in glob.glob(str(workspace / pattern), recursive=True) if Path(p).is_file()]
        return found, workspace.joinpath(*parts[:wildcard])
    path = workspace / pattern
    if path.is_dir():
        return [p for p in path.rglob("*") if p.is_file()], path
    if path.is_file():
        return [path], path.parent
    return [], None


def upload(store: Path, name: str, paths: list[str], if_missing: str) -> int:
    destination = store / name
    if destination.exists():
        print(f"::error::artifact {name} uploaded twice (names must be unique in a run)")
        return 1
    found: list[Path] = []
    roots: list[Path] = []
    for pattern in paths:
        files, root = matches(pattern, Path.cwd())
        found += files
        roots += [root] if root is not None and files else []
    if not found:
        print(f"no files found for {paths}")
        return 1 if if_missing == "error" else 0
    base = Path(os.path.commonpath([str(r) for r in roots]))
    for path in sorted(set(found)):
        relative = path.relative_to(base)
        (destination / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination / relative)
        print(f"{name}: {relative.as_posix()}")
    return 0


def download(store: Path, name: str, pattern: str, merge: bool, target: Path) -> int:
    if name:
        if not (store / name).is_dir():
            print(f"::error::no artifact {name}")
            return 1
        names = [name]
    else:
        names = sorted(p.name for p in store.iterdir() if fnmatchcase(p.name, pattern or "*"))
    for artifact in names:
        into = target if (name or merge or len(names) == 1) else target / artifact
        shutil.copytree(store / artifact, into, dirs_exist_ok=True)
        print(f"downloaded {artifact} into {into}")
    return 0


def main(action: str) -> int:
    store = Path(os.environ["ROOTFS_CI_ACT_ARTIFACTS"])
    store.mkdir(parents=True, exist_ok=True)
    env = os.environ
    if action == "upload":
        paths = [line.strip() for line in env["PATHS"].splitlines() if line.strip()]
        return upload(store, env["NAME"], paths, env.get("IF_MISSING", "warn"))
    target = Path(env.get("TARGET") or ".")
    return download(store, env.get("NAME", ""), env.get("PATTERN", ""), env.get("MERGE") == "true", target)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
