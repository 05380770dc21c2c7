"""Bad input: one clear line, a non-zero exit, no traceback, nothing left behind."""

from __future__ import annotations

import pytest

from tests.helpers import Project, engine_state

pytestmark = pytest.mark.docker


def unknown_key(data: dict) -> None:
    data["rootfs_ci"]["images"]["apacheinit"]["cmdd"] = ["/bin/sh"]


def missing_overlay(data: dict) -> None:
    data["rootfs_ci"]["images"]["apacheinit"]["overlays"] = ["overlay", "no-such-dir"]


def unknown_package(data: dict) -> None:
    data["rootfs_ci"]["images"]["apacheinit"]["debian"]["packages"].append("no-such-package-xyz")


def missing_library(data: dict) -> None:
    data["rootfs_ci"]["images"]["apacheinit"]["debian"]["packages"].remove("libapr1")


CASES = {
    "unknown image": (None, ("build", "--image", "nosuch"), 2, "unknown image 'nosuch'"),
    "unknown config key": (unknown_key, ("build",), 2, "rootfs_ci.images.apacheinit.cmdd: unknown key"),
    "missing overlay dir": (missing_overlay, ("build",), 2, "overlay directory 'no-such-dir' does not exist"),
    "unknown Debian package": (unknown_package, ("build",), 3, "no-such-package-xyz (amd64) not in the apt lists"),
    "library in no package": (missing_library, ("build",), 3, "libapr-1.so.0 (needed by /usr/bin/httpd)"),
    "unknown arch": (None, ("build", "--arch", "mips"), 2, "architecture 'mips' is not in this image's platforms"),
    "unknown backend": (None, ("build", "--backend", "nix"), 3, "unknown backend 'nix'"),
    "image before build": (None, ("image",), 2, "run 'invoke build --image apacheinit --arch x86_64' first"),
}


def check_one_clean_line(result, code: int, expected: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("[")]  # progress lines start with [
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("rootfs-ci: error: ")
    assert expected in lines[0]


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_bad_input(case: str, project: Project, engine, shared_cache) -> None:
    edit, args, code, expected = CASES[case]
    if edit is not None:
        project.edit_config(edit)
    before = engine_state(engine)
    result = project.invoke(*args)
    check_one_clean_line(result, code, expected)
    assert project.files("dist") == []
    scratch = shared_cache / "tmp"
    assert not scratch.exists() or list(scratch.iterdir()) == []
    assert engine_state(engine) == before


def test_malformed_invoke_yaml(project: Project) -> None:
    project.config_file.write_text("rootfs_ci:\n  images: {apacheinit: [\n")
    result = project.invoke("build")
    check_one_clean_line(result, 2, "invoke.yaml:3: not valid YAML")


def test_engine_not_running(project: Project, engine, tmp_path) -> None:
    assert project.invoke("build", "--image", "testrfs").returncode == 0
    before = engine_state(engine)
    result = project.invoke("image", "--image", "testrfs", env={"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"})
    check_one_clean_line(result, 4, "cannot reach the Docker engine")
    assert sorted(p.name for p in project.files("dist")) == ["rootfs.json", "rootfs.tar"]
    assert engine_state(engine) == before
