"""The check of invoke.yaml that runs while Invoke loads tasks.py: YAML only, no pydantic (start-up time)."""

from __future__ import annotations

from pathlib import Path

from rootfs_ci.config.keys import CONFIG_FILE, NAMESPACE
from rootfs_ci.errors import ConfigError
from rootfs_ci.yamlfile import error_at, load_yaml


def preflight(project_dir: Path) -> None:
    """Check invoke.yaml before Invoke reads it: Invoke would show a traceback for bad YAML.

    Only the ``rootfs_ci`` key is ours: every other top-level key belongs to Invoke, other task
    libraries or the project itself, and is left alone.
    """
    config_file = project_dir / CONFIG_FILE
    if not config_file.exists():
        return
    try:
        data = load_yaml(config_file)
    except OSError as exc:
        raise ConfigError(f"{config_file.name}: cannot be read ({exc.strerror}); fix its permissions") from None
    if data is None:
        return
    if not isinstance(data, dict):
        raise ConfigError(f"{config_file.name}:1: the top level must be a mapping (key: value)")
    if NAMESPACE in data and data[NAMESPACE] is not None and not isinstance(data[NAMESPACE], dict):
        raise error_at(config_file, (NAMESPACE,), "expected a mapping of settings")
