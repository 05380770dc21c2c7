"""The ``rootfs-ci`` command: ``rootfs-ci init`` (everything else is an Invoke task: ``invoke --list``)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rootfs_ci.errors import RootfsCiError
from rootfs_ci.rootfs.sources import MIRROR_ENV
from rootfs_ci.starter import starter_files, workflow_ref, workflow_repository, write_starter
from rootfs_ci.versioning import __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rootfs-ci", description="Container images from a rootfs, tested.")
    parser.add_argument("--version", action="version", version=f"rootfs-ci {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    init = commands.add_parser("init", help="write a working starter project (one image) into DIRECTORY")
    init.add_argument("directory", nargs="?", default=".", help="project directory (default: the current one)")
    init.add_argument("--image", default="hello", help="name of the starter image (default: hello)")
    init.add_argument("--force", action="store_true", help="overwrite files that already exist")
    init.add_argument(
        "--workflow-repo",
        default=None,
        help=f"OWNER/REPO whose reusable workflow ci.yml calls (default: {workflow_repository()})",
    )
    init.add_argument(
        "--debian-mirror",
        default=os.environ.get(MIRROR_ENV, ""),
        help=f"Debian archive URL written to invoke.yaml (default: ${MIRROR_ENV}; none: a commented example)",
    )
    return parser


def init(directory: Path, image: str, force: bool, workflow_repo: str | None, debian_mirror: str = "") -> list[str]:
    ref, warning = workflow_ref()
    files = starter_files(image, workflow_repo or workflow_repository(), ref, debian_mirror.rstrip("/"))
    written = write_starter(directory, files, force)
    lines = [f"wrote {path.relative_to(directory)}" for path in written]
    if warning:
        lines.append(f"rootfs-ci: warning: {warning}")
    lines.append(f"next: cd {directory} && invoke pipeline   (build -> image -> smoke for {image})")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        lines = init(Path(args.directory), args.image, args.force, args.workflow_repo, args.debian_mirror)
    except RootfsCiError as exc:
        print(f"rootfs-ci: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
