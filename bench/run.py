"""rootfs-ci benchmarks: size, pipeline time, start/stop latency, throughput, and the recipe's way.

    invoke bench [--runs 3]            (or: .venv/bin/python bench/run.py --runs 3 --output dist/bench.json)

Everything runs here, against the local engine and a throwaway registry on 127.0.0.1; the
load generator (wrk, bounded to a few seconds) only talks to 127.0.0.1. Prints a table and
writes the figures as JSON. docs/benchmarks.md explains the method and the numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import docker
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import speed  # noqa: E402
from bench.stop_latency import one_run, published_port, wait_for_200  # noqa: E402
from rootfs_ci.config import load_settings  # noqa: E402
from rootfs_ci.image.build import build_image  # noqa: E402
from rootfs_ci.image.oci import compress_layer  # noqa: E402
from rootfs_ci.records import RootfsRecord, read_record  # noqa: E402
from rootfs_ci.registry.local import LocalRegistry  # noqa: E402
from rootfs_ci.rootfs.elf import is_elf  # noqa: E402
from tests.helpers import copy_project  # noqa: E402
from tests.registry_fixtures import free_port, running  # noqa: E402

STAGES = ("build", "image", "smoke", "publish")
RECIPE_START = "#!/bin/sh\napachectl start &\n/bin/sh\n"  # the recipe's /bin/start.sh, verbatim


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


class Project:
    """A throwaway copy of this project with its own dist/ and cache, run through the CLI."""

    def __init__(self, path: Path, registry: str) -> None:
        self.path = copy_project(path)
        config = (path / "invoke.yaml").read_text()
        config = config.replace("rootfs_ci:\n", f"rootfs_ci:\n  registry: {{target: '{registry}/bench'}}\n", 1)
        (path / "invoke.yaml").write_text(config)

    def run(self, *args: str) -> float:
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "invoke", *args], cwd=self.path, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise SystemExit(f"invoke {' '.join(args)} failed:\n{result.stderr[-2000:]}")
        return time.monotonic() - started

    def pipeline(self, tag: str) -> dict[str, float]:
        return {
            "build": self.run("build"),
            "image": self.run("image", "--tag", tag),
            "smoke": self.run("smoke", "--tag", tag),
            # branch and sha tags move; a version tag would refuse the overlay-changed digests
            "publish": self.run(
                "publish", "--ref", "refs/heads/bench", "--sha", "0123456789abcdef0123456789abcdef01234567"
            ),
        }


@contextmanager
def registry(work: Path) -> Iterator[str]:
    with running(LocalRegistry(free_port(), work / "registry", work / "registry-state")) as server:
        yield server.address


# ---- 1. size -------------------------------------------------------------------------------------


def sizes(project: Project, images: dict[str, list[str]]) -> list[dict[str, Any]]:
    rows = []
    for image, arches in images.items():
        for arch in arches:
            project.run("build", "--image", image, "--arch", arch)
            out = project.path / "dist" / image / arch
            record = read_record(out / RootfsRecord.FILE, RootfsRecord, f"invoke build --image {image} --arch {arch}")
            floor = 0
            with tempfile.TemporaryDirectory() as tree, tarfile.open(out / "rootfs.tar") as tar:
                for member in tar.getmembers():
                    if member.isfile():
                        tar.extract(member, tree, filter="tar")
                        if is_elf(Path(tree) / member.name):
                            floor += member.size
            layer = compress_layer(out / "rootfs.tar", out / "layer.bench.gz")  # the image stage's own gzip
            rootfs = record.rootfs.size
            rows.append(
                {
                    "image": image,
                    "arch": arch,
                    "backend": record.backend,
                    "rootfs_bytes": rootfs,
                    "layer_bytes": layer.size,
                    "floor_bytes": floor,
                    "over_floor_percent": round(100 * (rootfs - floor) / floor, 2),
                }
            )
            (out / "layer.bench.gz").unlink()
    return rows


# ---- 2. pipeline time ----------------------------------------------------------------------------


def pipeline_times(work: Path, address: str, runs: int) -> dict[str, dict[str, float]]:
    cold: list[dict[str, float]] = []
    for run in range(runs):  # every cold run: a new project with empty caches
        cold.append(Project(work / f"cold-{run}", address).pipeline(f"bench-cold-{run}"))
    project = Project(work / "warm", address)
    project.pipeline("bench-warm")
    warm = [project.pipeline("bench-warm") for _ in range(runs)]
    overlay: list[dict[str, float]] = []
    for run in range(runs):
        start_sh = project.path / "overlay/bin/start.sh"
        start_sh.write_text(start_sh.read_text() + f"# overlay-only change {run}\n")
        overlay.append(project.pipeline(f"bench-overlay-{run}"))
    result = {}
    for name, samples in (("cold", cold), ("warm", warm), ("overlay-only change", overlay)):
        figures = {stage: median([sample[stage] for sample in samples]) for stage in STAGES}
        figures["total"] = median([sum(sample.values()) for sample in samples])
        result[name] = figures
    return result


# ---- 3. runtime ----------------------------------------------------------------------------------


def start_stop(client: docker.DockerClient, image: str, runs: int) -> dict[str, float]:
    samples = [one_run(client, image) for _ in range(runs)]
    return {
        "start_to_first_200_s": median([first_200 for first_200, _ in samples]),
        "docker_stop_s": median([stop for _, stop in samples]),
    }


def wrk(url: str, seconds: int = 5) -> float:
    result = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{seconds}s", "--timeout", "2s", url], capture_output=True, text=True, check=True
    )
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    if not match:
        raise SystemExit(f"wrk printed no rate:\n{result.stdout}")
    return float(match.group(1))


def host_httpd_rate(rootfs_tar: Path, work: Path) -> float:
    """The image's own httpd binary, chrooted into its rootfs but on the host's network: no container."""
    root = work / "host-httpd"
    with tarfile.open(rootfs_tar) as tar:
        tar.extractall(root, filter="tar")
    (root / "dev").mkdir(exist_ok=True)
    subprocess.run(["mknod", "-m", "666", str(root / "dev/null"), "c", "1", "3"], check=True)
    port = free_port()
    conf = (root / "etc/apache2/httpd.conf").read_text()
    conf = re.sub(r"(?m)^Listen .*$", f"Listen 127.0.0.1:{port}", conf)
    conf = re.sub(r"(?m)^(ErrorLog|CustomLog) .*$", "", conf) + "\nErrorLog /tmp/error_log\n"
    (root / "etc/apache2/bench.conf").write_text(conf)
    httpd = subprocess.Popen(
        ["chroot", str(root), "/usr/bin/httpd", "-f", "/etc/apache2/bench.conf", "-DFOREGROUND"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_200(f"http://127.0.0.1:{port}/", "the host httpd")
        return wrk(f"http://127.0.0.1:{port}/")
    finally:
        httpd.terminate()
        httpd.wait(timeout=10)


def container_rate(client: docker.DockerClient, image: str) -> float:
    container = client.containers.run(image, detach=True, ports={"80/tcp": ("127.0.0.1", None)})
    try:
        url = f"http://127.0.0.1:{published_port(container)}/"
        wait_for_200(url, image)
        return wrk(url)
    finally:
        container.remove(force=True)


# ---- 4. the recipe's way -------------------------------------------------------------------------


def timed(action: Callable[[], object]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def baselines(client: docker.DockerClient, project: Project, work: Path, runs: int) -> dict[str, float]:
    rootfs = project.path / "dist/apacheinit/x86_64/rootfs.tar"
    context = work / "context"
    context.mkdir()
    shutil.copy2(rootfs, context / "rootfs.tar")
    (context / "Dockerfile.scratch").write_text('FROM scratch\nADD rootfs.tar /\nCMD ["/bin/start.sh"]\n')
    (context / "recipe-start.sh").write_text(RECIPE_START)
    (context / "Dockerfile.recipe-start").write_text(
        "FROM bench-image:ours\nCOPY recipe-start.sh /bin/start.sh\nRUN chmod 755 /bin/start.sh\n"
    )

    def scratch() -> None:
        subprocess.run(
            ["docker", "build", "-q", "-f", "Dockerfile.scratch", "-t", "bench-scratch:v01", "."],
            cwd=context,
            capture_output=True,
            check=True,
        )

    figures = {
        "ours: invoke image (CLI, layer cached)": median([project.run("image", "--tag", "ours") for _ in range(runs)]),
        **in_process_image(project, runs),
        "recipe: docker import + docker build": median([speed.recipe_image(rootfs, work).wall for _ in range(runs)]),
        "docker build FROM scratch + ADD rootfs.tar": median([timed(scratch) for _ in range(runs)]),
    }
    client.images.get("apacheinit:ours").tag("bench-image", "ours")
    subprocess.run(
        ["docker", "build", "-q", "-f", "Dockerfile.recipe-start", "-t", "bench-recipe-start:v01", "."],
        cwd=context,
        capture_output=True,
        check=True,
    )
    recipe_stop = []
    for _ in range(max(1, runs // 2)):
        container = client.containers.run("bench-recipe-start:v01", detach=True, tty=True, stdin_open=True)
        try:
            time.sleep(1)
            recipe_stop.append(timed(lambda container=container: container.stop(timeout=10)))
        finally:
            container.remove(force=True)
    figures["recipe start.sh: docker stop (s)"] = median(recipe_stop)
    for image in (
        "bench-scratch:v01",
        "bench-recipe-start:v01",
        "bench-image:ours",
        "apacheinit:ours",
    ):
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.remove(image, force=True)
    return figures


def in_process_image(project: Project, runs: int) -> dict[str, float]:
    """The image stage without Python's and Invoke's start-up, like the Go CLIs it is compared with."""
    raw = yaml.safe_load((project.path / "invoke.yaml").read_text())["rootfs_ci"]
    config = load_settings(raw, project.path, os.environ)
    cold, warm = [], []
    for _ in range(runs):
        shutil.rmtree(config.cache_dir / "layers", ignore_errors=True)
        cold.append(timed(lambda: build_image(config, "apacheinit", None, "ours")))
        warm.append(timed(lambda: build_image(config, "apacheinit", None, "ours")))
    return {
        "ours: image stage in-process, layer cold": median(cold),
        "ours: image stage in-process, layer cached": median(warm),
    }


# ---- report --------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    engine = docker.from_env().version()
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "docker_engine": engine.get("Version"),
    }


def print_report(report: dict[str, Any]) -> None:
    print(f"machine: {report['machine']}")
    print("\nsize (debian backend)")
    print(f"  {'image/arch':<22}{'rootfs':>12}{'layer (gz)':>12}{'floor':>12}{'over floor':>12}")
    for row in report["size"]:
        name = f"{row['image']}/{row['arch']}"
        megabytes = "".join(f"{row[key] / 1e6:>10.2f}MB" for key in ("rootfs_bytes", "layer_bytes", "floor_bytes"))
        print(f"  {name:<22}{megabytes}{row['over_floor_percent']:>11.1f}%")
    print(f"\npipeline time, apacheinit/x86_64, median of {report['runs']} (s)")
    print(f"  {'':<22}" + "".join(f"{stage:>9}" for stage in (*STAGES, "total")))
    for name, figures in report["pipeline"].items():
        print(f"  {name:<22}" + "".join(f"{figures[stage]:>9.2f}" for stage in (*STAGES, "total")))
    runtime = report["runtime"]
    print(f"\nruntime, apacheinit/x86_64, median of {report['runs']}")
    for key, value in runtime.items():
        print(f"  {key:<40}{value:>10.3f}")
    print(f"\nthe recipe's way, median of {report['runs']} (s)")
    for key, value in report["baselines"].items():
        print(f"  {key:<45}{value:>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--output", type=Path, default=REPO / "dist" / "bench.json")
    parser.add_argument("--baseline", help="git revision whose package speed.py measures side by side (e.g. main)")
    args = parser.parse_args()
    client = docker.from_env()
    report: dict[str, Any] = {"machine": machine(), "runs": args.runs}
    with tempfile.TemporaryDirectory(prefix="rootfs-ci-bench-") as tmp, registry(Path(tmp)) as address:
        work = Path(tmp)
        print(f"[bench] pipeline times ({args.runs} cold runs with empty caches, then warm)...", file=sys.stderr)
        report["pipeline"] = pipeline_times(work, address, args.runs)
        project = Project(work / "size", address)
        print("[bench] sizes...", file=sys.stderr)
        report["size"] = sizes(project, {"apacheinit": ["x86_64", "aarch64"], "testrfs": ["x86_64", "aarch64"]})
        project.run("build")
        project.run("image", "--tag", "bench")
        print("[bench] runtime...", file=sys.stderr)
        runtime = start_stop(client, "apacheinit:bench", args.runs)
        runtime["requests_per_s_container"] = container_rate(client, "apacheinit:bench")
        runtime["requests_per_s_same_httpd_on_host"] = host_httpd_rate(
            project.path / "dist/apacheinit/x86_64/rootfs.tar", work
        )
        report["runtime"] = runtime
        print("[bench] baselines...", file=sys.stderr)
        report["baselines"] = baselines(client, project, work, args.runs)
        print("[bench] issue #18: smoke, warm pipeline, start-up, pipeline --all...", file=sys.stderr)
        report["speed"] = speed.measure(work, args.runs, args.baseline)
        client.images.remove("apacheinit:bench", force=True)
        for tag in [
            t for i in client.images.list() for t in i.tags if t.startswith(("apacheinit:bench", "testrfs:bench"))
        ]:
            client.images.remove(tag, force=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print_report(report)
    speed.print_table(report["speed"])
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
