"""aarch64 beside x86_64: arm64 packages, the arm64 image config, smoke under qemu-user emulation."""

from __future__ import annotations

import json

import docker
import pytest

from rootfs_ci.qemu import registered
from rootfs_ci.smoke.runtime import without_emulator
from tests.helpers import Project


def test_emulator_prefix_is_removed_from_command_lines() -> None:
    assert without_emulator("/usr/libexec/qemu-binfmt/aarch64-binfmt-P /bin/sh /bin/sh /bin/start.sh") == (
        "/bin/sh /bin/start.sh"
    )
    assert without_emulator("/usr/bin/qemu-aarch64-static /usr/bin/httpd -k start") == "/usr/bin/httpd -k start"
    assert without_emulator("/usr/bin/httpd -k start") == "/usr/bin/httpd -k start"


@pytest.mark.docker
def test_apacheinit_aarch64_builds_runs_and_passes_smoke(
    project: Project, engine: docker.DockerClient, unique_tag: str
) -> None:
    assert registered("aarch64"), "qemu is not registered with binfmt_misc: ./dev setup (or invoke qemu.setup) does it"
    result = project.invoke("pipeline", "--image", "apacheinit", "--arch", "aarch64", "--tag", unique_tag)
    reference = f"apacheinit:{unique_tag}-aarch64"
    try:
        assert result.returncode == 0, result.stderr
        assert "passed, 0 failed" in result.stderr
        image = engine.images.get(reference)
        assert (image.attrs["Architecture"], image.attrs.get("Variant")) == ("arm64", "v8")
        assert engine.containers.run(reference, ["uname", "-m"], remove=True).decode().strip() == "aarch64"
        record = json.loads((project.path / "dist/apacheinit/aarch64/rootfs.json").read_text())
        assert {package["arch"] for package in record["packages"]} == {"arm64"}
        first = record["rootfs"]["sha256"]
        assert project.invoke("build", "--image", "apacheinit", "--arch", "aarch64").returncode == 0
        again = json.loads((project.path / "dist/apacheinit/aarch64/rootfs.json").read_text())
        assert again["rootfs"]["sha256"] == first
    finally:
        engine.images.remove(reference, force=True)
