"""Step outputs for GitHub Actions ($GITHUB_OUTPUT): the one writer every task uses.

A value with a newline could add lines (and so outputs) of its own; such values, and lists, are
written in the delimited ``key<<DELIMITER`` form with a random delimiter.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence


def write_outputs(values_: Mapping[str, str | Sequence[str]], environ: Mapping[str, str]) -> None:
    """Step outputs for later workflow steps ($GITHUB_OUTPUT); lists become multi-line values."""
    path = environ.get("GITHUB_OUTPUT")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        for key, value in values_.items():
            if isinstance(value, str) and "\n" not in value:
                handle.write(f"{key}={value}\n")
                continue
            text = value if isinstance(value, str) else "\n".join(value)
            delimiter = f"EOF_{secrets.token_hex(8)}"
            handle.write(f"{key}<<{delimiter}\n{text}\n{delimiter}\n")
