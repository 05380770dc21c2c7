"""invoke matrix and invoke ci-info: what the workflows run, read from invoke.yaml (the single source of truth)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from rootfs_ci.config import NAMESPACE, load_settings
from rootfs_ci.errors import ConfigError
from rootfs_ci.github import write_outputs
from rootfs_ci.matrix import build_matrix, buildroot_cache_key, job_info
from tests.helpers import Project, read_github_output


def settings_of(project: Project) -> Any:
    raw = yaml.safe_load(project.config_file.read_text())[NAMESPACE]
    return load_settings(raw, project.path, {"SOURCE_DATE_EPOCH": "0"})


def matrix_of(project: Project, *args: str, output: Path | None = None) -> tuple[list[dict[str, str]], str]:
    env = {"GITHUB_OUTPUT": str(output)} if output else {}
    result = project.invoke("matrix", *args, env=env)
    assert result.returncode == 0, result.stderr
    parsed = json.loads(result.stdout)
    assert list(parsed) == ["include"]
    return parsed["include"], result.stderr


def expected_from_config(project: Project) -> list[dict[str, str]]:
    """What invoke.yaml declares, read independently of rootfs_ci.matrix."""
    platforms = {"x86_64": "linux/amd64", "aarch64": "linux/arm64/v8"}
    images = yaml.safe_load(project.config_file.read_text())[NAMESPACE]["images"]
    return [
        {"image": name, "arch": arch, "platform": platforms[arch], "backend": image.get("backend", "debian")}
        for name, image in images.items()
        for arch in image.get("platforms", ["x86_64"])
    ]


def test_invoke_matrix_lists_every_image_and_platform(project: Project, tmp_path: Path) -> None:
    output = tmp_path / "github_output"
    entries, _ = matrix_of(project, output=output)
    assert entries == expected_from_config(project)
    assert {(e["image"], e["arch"], e["platform"]) for e in entries} == {
        ("testrfs", "x86_64", "linux/amd64"),
        ("testrfs", "aarch64", "linux/arm64/v8"),
        ("apacheinit", "x86_64", "linux/amd64"),
        ("apacheinit", "aarch64", "linux/arm64/v8"),
    }
    outputs = read_github_output(output)
    assert json.loads(outputs["matrix"]) == {"include": entries}
    assert json.loads(outputs["images"]) == ["testrfs", "apacheinit"]


def test_the_matrix_follows_invoke_yaml(project: Project) -> None:
    before, _ = matrix_of(project)

    def edit(data: dict[str, Any]) -> None:
        images = data[NAMESPACE]["images"]
        images["testrfs"]["platforms"] = ["x86_64"]  # an architecture goes
        images["extra"] = {"platforms": ["aarch64", "x86_64"], "debian": {"packages": ["busybox"]}}  # an image comes

    project.edit_config(edit)
    after, _ = matrix_of(project)
    assert after == expected_from_config(project)
    assert [e for e in before if e not in after] == [
        {"image": "testrfs", "arch": "aarch64", "platform": "linux/arm64/v8", "backend": "debian"}
    ]
    assert [e for e in after if e not in before] == [
        {"image": "extra", "arch": "aarch64", "platform": "linux/arm64/v8", "backend": "debian"},
        {"image": "extra", "arch": "x86_64", "platform": "linux/amd64", "backend": "debian"},
    ]


def test_buildroot_entries_need_a_defconfig_for_their_architecture(project: Project, tmp_path: Path) -> None:
    # This project has a Buildroot defconfig per image and architecture.
    entries, _ = matrix_of(project, "--backend", "buildroot")
    assert [(e["image"], e["arch"]) for e in entries] == [
        ("testrfs", "x86_64"), ("testrfs", "aarch64"), ("apacheinit", "x86_64"), ("apacheinit", "aarch64"),
    ]  # fmt: skip
    configs = project.path / "buildroot-config" / "configs"
    (configs / "testrfs_aarch64_defconfig").write_text((configs / "testrfs_defconfig").read_text())  # selects x86_64
    (configs / "apacheinit_aarch64_defconfig").unlink()
    summary = tmp_path / "summary.md"
    result = project.invoke("matrix", "--backend", "buildroot", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout)["include"]
    assert [(e["image"], e["arch"], e["backend"]) for e in entries] == [
        ("testrfs", "x86_64", "buildroot"),
        ("apacheinit", "x86_64", "buildroot"),
    ]
    assert "left out testrfs/aarch64: its Buildroot defconfig does not select BR2_aarch64" in result.stderr
    lines = summary.read_text().splitlines()
    assert lines[:3] == [
        "Left out of the build matrix:",
        "",
        "- testrfs/aarch64: its Buildroot defconfig does not select BR2_aarch64",
    ]
    assert lines[3].startswith("- apacheinit/aarch64: ") and "apacheinit_aarch64_defconfig does not exist" in lines[3]


def test_bad_backend_is_one_line(project: Project) -> None:
    result = project.invoke("matrix", "--backend", "yocto")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "rootfs-ci: error: unknown backend 'yocto'; use one of: debian, buildroot"
    ]
    assert result.stdout == ""


def test_ci_info_for_debian_has_no_cache(project: Project, tmp_path: Path) -> None:
    output = tmp_path / "github_output"
    result = project.invoke("ci-info", "--image", "testrfs", "--arch", "aarch64", env={"GITHUB_OUTPUT": str(output)})
    assert result.returncode == 0, result.stderr
    outputs = read_github_output(output)
    assert outputs == {
        "dist": "dist/testrfs/aarch64",
        "dist-root": "dist",
        "backend": "debian",
        "cache-key": "",
        "cache-restore-keys": "",
        "cache-paths": "",
        "buildroot-log": "",
    }
    assert "dist=dist/testrfs/aarch64" in result.stdout.splitlines()


def test_ci_info_for_buildroot_keys_the_cache_on_pin_defconfig_and_overlay(project: Project, tmp_path: Path) -> None:
    output = tmp_path / "github_output"
    result = project.invoke(
        "ci-info", "--image", "apacheinit", "--backend", "buildroot", env={"GITHUB_OUTPUT": str(output)}
    )
    assert result.returncode == 0, result.stderr
    outputs = read_github_output(output)
    pin = settings_of(project).config.buildroot
    prefix = f"rootfs-ci-buildroot-{pin.version}-{pin.commit[:12]}-x86_64-"
    assert outputs["cache-key"].startswith(f"{prefix}apacheinit-")
    assert outputs["cache-restore-keys"].splitlines() == [f"{prefix}apacheinit-", prefix]
    cache_dir = Path(yaml.safe_load(project.config_file.read_text())[NAMESPACE]["cache_dir"])
    assert outputs["cache-paths"].splitlines() == [
        str(cache_dir / "buildroot" / part) for part in ("dl", "ccache", "src")
    ]
    assert outputs["buildroot-log"] == str(cache_dir / "buildroot" / "logs" / "apacheinit-x86_64.log")

    def key() -> str:
        return buildroot_cache_key(settings_of(project), "apacheinit", "x86_64").key

    assert key() == outputs["cache-key"]
    defconfig = project.path / "buildroot-config" / "configs" / "apacheinit_defconfig"
    keys = {key()}
    defconfig.write_text(defconfig.read_text() + "BR2_PACKAGE_HTOP=y\n")
    keys.add(key())
    index = project.path / "overlay" / "usr" / "htdocs" / "extra.html"
    index.parent.mkdir(parents=True, exist_ok=True)
    index.write_text("<p>new page</p>\n")
    keys.add(key())
    assert len(keys) == 3
    assert all(k.startswith(f"{prefix}apacheinit-") for k in keys)
    assert key() == key()  # stable while nothing changes


def test_job_info_refuses_what_the_build_would(project: Project) -> None:
    settings = settings_of(project)
    with pytest.raises(ConfigError, match="unknown backend 'yocto'"):
        job_info(settings, "testrfs", "x86_64", "yocto")
    with pytest.raises(ConfigError, match="architecture 'riscv64' is not in this image's platforms"):
        job_info(settings, "testrfs", "riscv64", None)
    with pytest.raises(ConfigError, match="unknown image 'nope'"):
        job_info(settings, "nope", None, None)
    project.edit_config(lambda data: data[NAMESPACE].update(images={}) or data[NAMESPACE].pop("default_image"))
    with pytest.raises(ConfigError, match="declares no images"):
        build_matrix(settings_of(project), None)


def test_outputs_are_github_output_syntax(tmp_path: Path) -> None:
    output = tmp_path / "out"
    write_outputs({"one": "value", "many": ["a", "b c"], "empty": ""}, {"GITHUB_OUTPUT": str(output)})
    assert read_github_output(output) == {"one": "value", "many": "a\nb c", "empty": ""}
    write_outputs({"ignored": "x"}, {})  # outside GitHub Actions: nothing to write, no error
