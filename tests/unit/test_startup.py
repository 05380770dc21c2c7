"""Start-up cost: Invoke imports every task module on each call, so they must not import what only
some task bodies need (issue #18). Measured in a fresh interpreter, against what Invoke itself loads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# Top-level packages only some tasks need: each costs tens of milliseconds to import.
HEAVY = (
    "docker",
    "requests",
    "urllib3",
    "pydantic",
    "pydantic_core",
    "cyclonedx",
    "yaml",
    "elftools",
    "jsonschema",
    "rootfs_ci.config.models",
    "rootfs_ci.smoke",
    "rootfs_ci.image",
    "rootfs_ci.rootfs",
    "rootfs_ci.registry",
    "rootfs_ci.publishing",
)

PROBE = """
import json, sys
from pathlib import Path
import invoke, invoke.collection, invoke.config, invoke.context, invoke.program, invoke.tasks
before = set(sys.modules)
import rootfs_ci.tasks
imported = set(sys.modules) - before
if len(sys.argv) > 1:
    rootfs_ci.tasks.namespace(Path(sys.argv[1]))
print(json.dumps({"imported": sorted(imported), "after_namespace": sorted(set(sys.modules) - before)}))
"""


def probe(*args: str) -> dict[str, list[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True)
    result: dict[str, list[str]] = json.loads(done.stdout)
    return result


def heavy(modules: list[str], allowed: tuple[str, ...] = ()) -> list[str]:
    return sorted(
        name
        for name in modules
        if any(name == root or name.startswith(f"{root}.") for root in HEAVY if root not in allowed)
    )


def test_importing_the_tasks_pulls_in_no_heavy_module() -> None:
    result = probe()
    assert "rootfs_ci.tasks.stages" in result["imported"]  # the probe did import the task modules
    assert heavy(result["imported"]) == []


def test_building_the_namespace_pulls_in_no_heavy_module_but_yaml(tmp_path: Path) -> None:
    (tmp_path / "invoke.yaml").write_text("rootfs_ci:\n  images: {}\n")
    result = probe(str(tmp_path))
    assert "rootfs_ci.config.preflight" in result["after_namespace"]  # invoke.yaml was checked
    # Invoke's own YAML loader imports PyYAML's C extension anyway; the preflight check reuses it.
    assert heavy(result["after_namespace"], allowed=("yaml",)) == []


SETTINGS_PROBE = """
import json, sys
from pathlib import Path
from rootfs_ci.config import load_settings
load_settings({"images": {"x": {"backend": "debian", "debian": {"packages": ["busybox"]}}}}, Path(sys.argv[1]), {})
print(json.dumps(sorted(sys.modules)))
"""


def test_loading_the_settings_pulls_in_no_engine_or_http_client(tmp_path: Path) -> None:
    """Every stage loads the settings first; the stages that talk to no engine or registry (build with
    cached packages, lock checks) must not pay for the clients' imports."""
    done = subprocess.run(
        [sys.executable, "-c", SETTINGS_PROBE, str(tmp_path)], capture_output=True, text=True, check=True
    )
    loaded = json.loads(done.stdout)
    assert "rootfs_ci.config.models" in loaded  # the probe did validate a configuration
    assert [name for name in loaded if name.split(".")[0] in ("docker", "requests", "urllib3", "elftools")] == []
