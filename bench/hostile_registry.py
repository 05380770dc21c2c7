"""Peak memory and wall time of ``invoke verify`` against hostile registries on 127.0.0.1.

    .venv/bin/python bench/hostile_registry.py

Two scripted servers (tests/fakeregistry.py): one streams a 2 GiB manifest, one drips a byte every
2 s. Each verify runs under /usr/bin/time -v in a throwaway project with a staged tiny image; the
default limits apply (4 MiB per body, 60 s per request). Prints exit code, error line, peak RSS
and wall time per case.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakeregistry import FakeServer
from tests.registry_fixtures import stage_tiny_image, write_project


def oversized(fake, handler, seen) -> None:  # type: ignore[no-untyped-def]
    fake.stream(handler, 2 << 30, declare=False)


def drip(fake, handler, seen) -> None:  # type: ignore[no-untyped-def]
    fake.drip(handler, every=2.0, count=1000)


def measure(project: Path, address: str) -> tuple[int, str, int, float]:
    command = ["/usr/bin/time", "-v", sys.executable, "-m", "invoke", "verify", "--registry", address, "--tag", "1.0.0"]
    start = time.monotonic()
    result = subprocess.run(command, cwd=project, capture_output=True, text=True, check=False)
    wall = time.monotonic() - start
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))  # type: ignore[union-attr]
    error = next((line for line in result.stderr.splitlines() if line.startswith("rootfs-ci: error:")), "")
    return result.returncode, error, rss, wall


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="rootfs-ci-hostile-") as tmp:
        project = write_project(Path(tmp) / "project", target="127.0.0.1:1")
        stage_tiny_image(project, b"hostile")
        for name, answer in (("2 GiB manifest", oversized), ("drip 1 byte / 2 s", drip)):
            with FakeServer(answer) as fake:
                code, error, rss, wall = measure(project, fake.address)
            print(f"{name}: exit {code}, peak RSS {rss / 1024:.1f} MiB, wall {wall:.1f} s, sent {fake.sent} bytes")
            print(f"  {error}")


if __name__ == "__main__":
    main()
