"""Validate YAML-sourced data against pydantic models; errors say file:line, dotted key and the fix."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError

from rootfs_ci.yamlfile import dotted, error_at, load_yaml, where, yaml_line

M = TypeVar("M", bound=BaseModel)
Location = tuple[str | int, ...]

# The YAML-only helpers live in rootfs_ci.yamlfile (no pydantic); they are still importable from here.
__all__ = ["Location", "StrictModel", "dotted", "error_at", "load_yaml", "validate", "where", "yaml_line"]


class StrictModel(BaseModel):
    """Base of every YAML-sourced model: unknown keys and loose types are errors; values are frozen."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


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
