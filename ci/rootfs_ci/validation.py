"""Validate YAML-sourced data against pydantic models; errors say file:line, dotted key and the fix."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from rootfs_ci.errors import ConfigError
from rootfs_ci.fsutil import shown

M = TypeVar("M", bound=BaseModel)
Location = tuple[str | int, ...]


class StrictModel(BaseModel):
    """Base of every YAML-sourced model: unknown keys and loose types are errors; values are frozen."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


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


_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "a whole number",
    "bool_type": "true or false",
    "dict_type": "a mapping (key: value)",
    "tuple_type": "a list",
    "list_type": "a list",
    "model_type": "a mapping (key: value)",
}


def _explain(error: Mapping[str, Any], location: tuple[str | int, ...], model: type[BaseModel]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, location[:-1])
        hint = f"; valid keys here: {', '.join(allowed)}" if allowed else ""
        return f"unknown key (fix the spelling or remove it{hint})"
    if kind in _TYPE_WORDS:
        return f"expected {_TYPE_WORDS[kind]}, got {type(error.get('input')).__name__} {error.get('input')!r}"
    if kind == "missing":
        return f"required key is missing; add {location[-1]}:"
    if kind == "literal_error":
        return f"{error['msg'].lower()}, got {error.get('input')!r}"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    return f"{error['msg']} (got {error.get('input')!r})"


def _allowed_keys(model: type[BaseModel], location: tuple[str | int, ...]) -> list[str]:
    """Field names of the model found at ``location``; keys of dict fields (image names) are stepped over."""
    current = model
    parts = list(location)
    while parts:
        field = current.model_fields.get(str(parts.pop(0)))
        if field is None:
            return []
        annotation: Any = field.annotation
        if get_origin(annotation) is dict:
            if not parts:
                return []
            parts.pop(0)
            annotation = get_args(annotation)[1]
        elif get_origin(annotation) in (Union, UnionType):
            annotation = next(arg for arg in get_args(annotation) if arg is not type(None))
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        current = annotation
    return sorted(current.model_fields)


def error_at(config_file: Path, location: tuple[str | int, ...], message: str) -> ConfigError:
    return ConfigError(f"{where(config_file, location)}: {dotted(location)}: {message}")


class _UniqueKeyLoader(yaml.SafeLoader):
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


def validate(model: type[M], data: Any, source: Path, prefix: Location = ()) -> M:
    """``model`` from ``data`` read out of ``source``; the first problem becomes a one-line ConfigError."""
    try:
        return model.model_validate(_lists_as_tuples(data))
    except ValidationError as exc:
        # A misspelt key also makes the right one "missing": report the misspelling first.
        error = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
        location = (*prefix, *error["loc"])
        raise error_at(source, location, _explain(error, tuple(error["loc"]), model)) from None


def _lists_as_tuples(data: Any) -> Any:
    """YAML lists -> tuples, as the frozen models want (strict mode does not convert)."""
    if isinstance(data, dict):
        return {key: _lists_as_tuples(value) for key, value in data.items()}
    if isinstance(data, list):
        return tuple(_lists_as_tuples(item) for item in data)
    return data
