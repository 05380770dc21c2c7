"""Reading the configuration: invoke.yaml's ``rootfs_ci`` key into Settings, with file:line errors."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rootfs_ci import gitinfo
from rootfs_ci.config.keys import CONFIG_FILE, NAMESPACE
from rootfs_ci.config.models import RootfsCiConfig
from rootfs_ci.config.settings import Settings
from rootfs_ci.errors import ConfigError
from rootfs_ci.validation import error_at, validate


def _plain(value: Any) -> Any:
    """Invoke's DataProxy -> plain dicts and lists, so pydantic sees ordinary data."""
    if isinstance(value, Mapping) or (hasattr(value, "keys") and hasattr(value, "__getitem__")):
        return {key: _plain(value[key]) for key in value.keys()}  # noqa: SIM118 (DataProxy is not iterable)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def parse_config(raw: Any, project_dir: Path) -> RootfsCiConfig:
    """Validate the ``rootfs_ci`` mapping; raise ConfigError with file:line on the first problem."""
    config_file = project_dir / CONFIG_FILE
    data = _plain(raw) if raw is not None else {}
    if not isinstance(data, dict):
        raise error_at(config_file, (NAMESPACE,), "expected a mapping of settings")
    config = validate(RootfsCiConfig, data, config_file, (NAMESPACE,))
    _check_paths(config, project_dir, config_file)
    return config


def _check_paths(config: RootfsCiConfig, project_dir: Path, config_file: Path) -> None:
    if config.default_image is not None and config.default_image not in config.images:
        raise error_at(
            config_file,
            (NAMESPACE, "default_image"),
            f"{config.default_image!r} is not one of the declared images "
            f"({', '.join(sorted(config.images)) or 'none'}); fix it, or remove it to use the first image",
        )
    for name, image in config.images.items():
        for index, overlay in enumerate(image.overlays):
            problem = _overlay_problem(overlay, project_dir, config.allow_external_overlays)
            if problem:
                raise error_at(config_file, (NAMESPACE, "images", name, "overlays", index), problem)
        if image.backend == "debian" and not image.debian.packages:
            raise error_at(
                config_file,
                (NAMESPACE, "images", name, "debian", "packages"),
                "the debian backend needs at least one package (e.g. [busybox, libc6])",
            )


def _overlay_problem(overlay: str, project_dir: Path, allow_external: bool) -> str | None:
    """Why ``overlay`` cannot be used, or None: it must be a directory inside the project."""
    path = project_dir / overlay
    try:
        exists = path.is_dir()
    except OSError as exc:  # e.g. a name longer than the file system allows
        return f"overlay directory {overlay!r} cannot be used ({exc.strerror}); fix the path"
    if not exists:
        return f"overlay directory {overlay!r} does not exist under {project_dir}; create it or fix the path"
    if not allow_external and not path.resolve().is_relative_to(project_dir.resolve()):
        return (
            f"overlay directory {overlay!r} is outside the project {project_dir}; move it into the project, "
            f"or set {NAMESPACE}.allow_external_overlays: true"
        )
    return None


def source_date_epoch(project_dir: Path, environ: Mapping[str, str]) -> int:
    """SOURCE_DATE_EPOCH if set, else the last commit's time, else 0."""
    value = environ.get("SOURCE_DATE_EPOCH")
    if value is not None:
        if not value.isdigit():
            raise ConfigError(f"SOURCE_DATE_EPOCH={value!r} is not a whole number of seconds; unset it or fix it")
        return int(value)
    out = gitinfo.output(project_dir, "log", "-1", "--format=%ct")
    try:
        return int(out) if out else 0
    except ValueError:
        return 0


def load_settings(raw: Any, project_dir: Path, environ: Mapping[str, str]) -> Settings:
    return Settings(
        project_dir=project_dir,
        config=parse_config(raw, project_dir),
        source_date_epoch=source_date_epoch(project_dir, environ),
    )
