"""The configuration reference table, made from the models so the docs match the code.

``python -m rootfs_ci.docs`` rewrites the table in docs/configuration.md; a test fails when it is stale.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from rootfs_ci.config import NAMESPACE, RootfsCiConfig


def _type_name(annotation: Any) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return " or ".join(str(arg) for arg in args)
    if origin is tuple:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"map of {_type_name(args[0])} to {_type_name(args[1])}"
    if origin in (Union, UnionType):
        return " or ".join(_type_name(arg) for arg in args if arg is not type(None)) + " (optional)"
    return {str: "string", int: "integer", bool: "boolean"}.get(annotation, getattr(annotation, "__name__", "?"))


def config_table(
    model: type[BaseModel] = RootfsCiConfig, prefix: str = f"{NAMESPACE}."
) -> list[tuple[str, str, str, str]]:
    """(key, type, default, description) for every setting; README's table is made from this."""
    rows: list[tuple[str, str, str, str]] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        annotation: Any = field.annotation
        nested = next(
            (
                arg
                for arg in (annotation, *get_args(annotation))
                if isinstance(arg, type) and issubclass(arg, BaseModel)
            ),
            None,
        )
        if get_origin(annotation) is dict and nested is not None:
            rows.extend(config_table(nested, f"{key}.NAME."))
        elif nested is not None:
            rows.extend(config_table(nested, f"{key}."))
        else:
            default = field.get_default(call_default_factory=True)
            shown = json.dumps(list(default) if isinstance(default, tuple) else default)
            rows.append((key, _type_name(annotation), shown, field.description or ""))
    return rows


TABLE_FILE = Path("docs/configuration.md")
START = "<!-- config-table:start -->"
END = "<!-- config-table:end -->"


def render_config_table() -> str:
    lines = ["| key | type | default | what it does |", "|---|---|---|---|"]
    lines += [f"| `{key}` | {kind} | `{default}` | {text} |" for key, kind, default, text in config_table()]
    return "\n".join(lines)


def with_config_table(readme: str) -> str:
    block = f"{START}\n{render_config_table()}\n{END}"
    return re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, readme, flags=re.DOTALL)


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else TABLE_FILE
    target.write_text(with_config_table(target.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main()
