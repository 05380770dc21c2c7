"""Wall time of ``invoke diff`` of apacheinit against its published tag, and the issue's demonstration.

    .venv/bin/python bench/diff.py [--runs N] [--cache DIR]

In a throwaway copy of the project (never the repository itself): release 0.1.0 in its CHANGELOG,
build and smoke apacheinit, publish it (with its SBOM attached as a referrer) to a registry on a free
loopback port; time ``invoke diff`` of the unchanged rebuild (identical); then change one line of
overlay/bin/start.sh, add the media-types package with /etc/mime.types mapped into the rootfs, rebuild,
time ``invoke diff`` again and print its Markdown. Needs the engine and the Debian archive (for
media-types); the registry and the copy are removed at the end.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rootfs_ci.image.layout import read_layout
from rootfs_ci.registry.client import RegistryClient
from rootfs_ci.registry.local import LocalRegistry
from rootfs_ci.registry.referrers import ArtifactBlob, Descriptor, push_artifact
from rootfs_ci.registry.repository import Repository
from rootfs_ci.registry.target import parse_target
from rootfs_ci.sbom import MEDIA_TYPE as SBOM_TYPE
from tests.helpers import copy_project
from tests.registry_fixtures import free_port, running

IMAGE = "apacheinit"
RELEASED = "# Changelog\n\n## [Unreleased]\n\n## [0.1.0] - 2026-11-29\n\n### Added\n- The first release.\n"


def invoke(project: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "invoke", *args], cwd=project, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"invoke {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def attach_sbom(target: str, stage: Path) -> None:
    """What publishing attaches (issue #16): the build's SBOM as a referrer of the pushed manifest."""
    parsed = parse_target(target)
    image = read_layout(stage / "image.tar")
    with RegistryClient(parsed) as client:
        repository = Repository(client, parsed.repository(IMAGE), push=True)
        subject = Descriptor(image.media_type, image.manifest_digest, len(image.manifest))
        push_artifact(repository, subject, SBOM_TYPE, [ArtifactBlob(SBOM_TYPE, (stage / "sbom.json").read_bytes())])


def timed_diffs(project: Path, runs: int, *args: str) -> tuple[float, float, str]:
    """Median wall and CPU (user + system) seconds of ``invoke diff ARGS``, and its output."""
    wall, cpu = [], []
    output = ""
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        output = invoke(project, "diff", *args)
        wall.append(time.monotonic() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(wall), statistics.median(cpu), output


def change_the_image(project: Path) -> None:
    start_sh = project / "overlay" / "bin" / "start.sh"
    lines = start_sh.read_text().splitlines(keepends=True)
    lines[1] = lines[1].rstrip("\n") + " (changed)\n"
    start_sh.write_text("".join(lines))
    config = yaml.safe_load((project / "invoke.yaml").read_text())
    debian = config["rootfs_ci"]["images"][IMAGE]["debian"]
    debian["packages"].append("media-types")
    debian["files"]["/etc/mime.types"] = "/etc/mime.types"
    (project / "invoke.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cache", help="cache dir for .debs (default: the copy's own)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-diff-") as tmp:
        root = Path(tmp)
        project = copy_project(root / "project")
        (project / "CHANGELOG.md").write_text(RELEASED)
        registry = LocalRegistry(free_port(), root / "storage", root / "state")
        config = yaml.safe_load((project / "invoke.yaml").read_text())
        config["rootfs_ci"]["registry"] = {"target": f"{registry.address}/bench"}
        if options.cache:
            config["rootfs_ci"]["cache_dir"] = options.cache
        (project / "invoke.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        with running(registry):
            invoke(project, "pipeline", "--image", IMAGE)
            invoke(project, "publish", "--image", IMAGE)
            attach_sbom(f"{registry.address}/bench", project / "dist" / IMAGE / "x86_64")
            invoke(project, "pipeline", "--image", IMAGE)  # an unchanged rebuild
            wall, cpu, identical = timed_diffs(project, options.runs)
            print(f"unchanged rebuild, median of {options.runs}: {wall:.2f} s wall, {cpu:.2f} s CPU\n{identical}")
            change_the_image(project)
            invoke(project, "lock", "--image", IMAGE)  # the package list changed: its lock section is stale
            invoke(project, "pipeline", "--image", IMAGE)
            wall, cpu, report = timed_diffs(project, options.runs, "--format", "markdown")
            print(f"changed build, median of {options.runs}: {wall:.2f} s wall, {cpu:.2f} s CPU\n\n{report}")


if __name__ == "__main__":
    main()
