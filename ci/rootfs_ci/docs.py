"""The configuration reference table, made from the models so the docs match the code.

``python -m rootfs_ci.docs`` rewrites the table in docs/configuration.md; a test fails when it is stale.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from rootfs_ci.config import config_table

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
