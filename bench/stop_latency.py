"""Start -> first HTTP 200 and `docker stop` latency of an image, median of N runs.

    .venv/bin/python bench/stop_latency.py [--image apacheinit:dev] [--runs 5]

Prints one line per run and the medians. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import statistics
import time

import docker
import requests


def wait_for_200(url: str, what: str, timeout: float = 10.0) -> None:
    """Poll ``url`` (loopback) until it answers 200; give up after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} did not answer HTTP 200 within {timeout:.0f} s")
        time.sleep(0.005)


def published_port(container: docker.models.containers.Container) -> str:
    container.reload()
    return str(container.ports["80/tcp"][0]["HostPort"])


def one_run(client: docker.DockerClient, image: str) -> tuple[float, float]:
    """(start -> first HTTP 200, docker stop) in seconds, for one container of ``image``."""
    started = time.monotonic()
    container = client.containers.run(image, detach=True, ports={"80/tcp": ("127.0.0.1", None)})
    try:
        wait_for_200(f"http://127.0.0.1:{published_port(container)}/", image)
        first_200 = time.monotonic() - started
        stopping = time.monotonic()
        container.stop(timeout=10)
        return first_200, time.monotonic() - stopping
    finally:
        container.remove(force=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="apacheinit:dev")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    client = docker.from_env()
    starts, stops = [], []
    for run in range(1, args.runs + 1):
        first_200, stop = one_run(client, args.image)
        starts.append(first_200)
        stops.append(stop)
        print(f"run {run}: start -> first 200 {first_200:.3f} s, docker stop {stop:.3f} s")
    start, stop = statistics.median(starts), statistics.median(stops)
    print(f"median of {args.runs}: start -> first 200 {start:.3f} s, docker stop {stop:.3f} s")


if __name__ == "__main__":
    main()
