"""GitHub Actions files: step outputs ($GITHUB_OUTPUT) and the run's summary page ($GITHUB_STEP_SUMMARY).

The one writer of each that every task uses.

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


def write_summary(lines: Sequence[str], environ: Mapping[str, str]) -> None:
    """Markdown for the run's summary page ($GITHUB_STEP_SUMMARY), when running in GitHub Actions."""
    path = environ.get("GITHUB_STEP_SUMMARY")
    if path and lines:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
