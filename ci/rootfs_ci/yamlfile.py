"""YAML files read with file:line errors, without pydantic (so Invoke's start-up can check invoke.yaml cheaply)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from rootfs_ci.errors import ConfigError
from rootfs_ci.fsutil import shown

try:  # libyaml's parser: invoke.yaml is read on every invoke call
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # a PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]


def yaml_line(config_file: Path, location: tuple[str | int, ...]) -> int | None:
    """Line of the deepest node of ``location`` found in the YAML file (1-based)."""
    try:
        node = yaml.compose(config_file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    line = None
    for part in location:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == str(part):
                    line, node = key_node.start_mark.line + 1, value_node
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def where(config_file: Path, location: tuple[str | int, ...]) -> str:
    line = yaml_line(config_file, location)
    name = shown(config_file.resolve(), outside=config_file.name)
    return f"{name}:{line}" if line else name


def dotted(location: tuple[str | int, ...]) -> str:
    out = ""
    for part in location:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def error_at(config_file: Path, location: tuple[str | int, ...], message: str) -> ConfigError:
    return ConfigError(f"{where(config_file, location)}: {dotted(location)}: {message}")


class _UniqueKeyLoader(_SafeLoader):
    """YAML keeps the last of two equal keys without a word; a config must not."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice (first on line {seen[key]})", key_node.start_mark
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: Path) -> Any:
    """Parse ``path``; syntax errors and duplicate keys are one ConfigError with file:line."""
    text = path.read_text(encoding="utf-8")
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as exc:
        line = f":{exc.problem_mark.line + 1}" if exc.problem_mark else ""
        name = shown(path.resolve(), outside=path.name)
        raise ConfigError(f"{name}{line}: not valid YAML ({exc.problem}); fix it there") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path.name}: not valid YAML ({exc}); fix the file") from None
