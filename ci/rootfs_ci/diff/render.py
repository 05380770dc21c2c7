"""The report as text (a terminal), Markdown (a GitHub step summary) or JSON (tools).

Warnings (a size budget breach, a removed smoke-tested file) come first in every format; identical
images are one line.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from rootfs_ci.diff.model import DiffReport, Entry, FileChange, SizeChange

FORMATS = ("text", "markdown", "json")
MAX_ROWS = 400  # file rows in Markdown: a step summary holds at most 1 MiB


def short(digest: str) -> str:
    return digest[:19] if digest.startswith("sha256:") else digest


def number(value: int | None) -> str:
    return "n/a" if value is None else f"{value:,}"


def signed(value: int) -> str:
    return f"{value:+,}"


def size_cells(size: SizeChange) -> tuple[str, str, str]:
    delta, relative = size.delta, size.relative
    change = "n/a" if delta is None else signed(delta) + (f" ({relative:+.2%})" if relative is not None else "")
    return number(size.before), number(size.after), change


def _value(entry: Entry, field: str) -> str:
    if field == "size":
        return number(entry.size)
    if field == "mode":
        return f"{entry.mode:04o}"
    if field == "owner":
        return f"{entry.uid}:{entry.gid}"
    if field == "digest":
        return short(entry.digest)
    return str(getattr(entry, field))


def file_cell(change: FileChange, field: str) -> str:
    """One field of a change: 'before -> after' when it changed, else the value it has."""
    if change.before is not None and change.after is not None and field in change.fields:
        text = f"{_value(change.before, field)} → {_value(change.after, field)}"
        return text + f" ({signed(change.size_delta)})" if field == "size" else text
    entry = change.after or change.before
    return _value(entry, field) if entry is not None else ""


FILE_FIELDS = ("kind", "size", "mode", "owner", "link", "digest")


def _sameness(report: DiffReport) -> str:
    """Why identical images may still have two digests: labels (version, revision) are not content."""
    if report.before_digest == report.after_digest:
        return f"same digest {short(report.after_digest)}"
    labels = [key.removeprefix("Labels.") for key in report.config if key.startswith("Labels.")]
    return "same layers; labels differ: " + ", ".join(labels) if labels else "same layers and config"


def headline(report: DiffReport) -> str:
    if report.identical:
        return f"{report.image}/{report.arch}: identical to {report.before} ({_sameness(report)})"
    return f"{report.image}/{report.arch}: {report.after} against {report.before}"


def _counts(report: DiffReport) -> str:
    counts = {
        kind: sum(1 for change in report.files if change.change == kind) for kind in ("added", "removed", "changed")
    }
    return ", ".join(f"{count} {kind}" for kind, count in counts.items())


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], align: Sequence[str] = ()) -> Iterator[str]:
    yield "| " + " | ".join(header) + " |"
    yield "|" + "|".join(align[i] if i < len(align) else "---" for i in range(len(header))) + "|"
    for row in rows:
        yield "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"


def _code(text: str) -> str:
    return f"`{text}`" if text else ""


def markdown(report: DiffReport) -> str:
    lines = [f"### Image diff: {report.image}/{report.arch}", ""]
    lines += [f"> :warning: **{warning}**" for warning in report.warnings] + ([""] if report.warnings else [])
    if report.identical:
        same = f"**identical**: {_code(report.after)} and {_code(report.before)} ({_sameness(report)})"
        return "\n".join([*lines, same, ""])
    lines += [f"{_code(report.after)} against {_code(report.before)}", ""]
    right = ("---", "---:", "---:", "---:")
    lines += _markdown_table(
        ("size (bytes)", "before", "after", "change"), [(s.what, *size_cells(s)) for s in report.sizes], right
    )
    lines += ["", f"**Files**: {_counts(report)}", ""]
    if report.directories:
        rows = [
            (d.directory, str(d.added), str(d.removed), str(d.changed), signed(d.size_delta))
            for d in report.directories
        ]
        lines += [*_markdown_table(("directory", "added", "removed", "changed", "bytes"), rows), ""]
        files = [
            (_code(c.path), c.change, *(file_cell(c, field) for field in FILE_FIELDS)) for c in report.files[:MAX_ROWS]
        ]
        lines += [*_markdown_table(("path", "change", *FILE_FIELDS), files), ""]
        if len(report.files) > MAX_ROWS:
            lines += [f"... and {len(report.files) - MAX_ROWS} more (run `invoke diff` for all)", ""]
    lines += _markdown_packages(report)
    if report.config:
        lines += [f"**Image config changed**: {', '.join(_code(key) for key in report.config)}", ""]
    return "\n".join(lines)


def _markdown_packages(report: DiffReport) -> list[str]:
    packages = report.packages
    if packages.missing:
        return ["**Packages**: not compared", "", *(f"- {line}" for line in packages.missing), ""]
    if not packages.changes:
        return ["**Packages**: unchanged", ""]
    rows = [(p.name, p.change, p.before or "", p.after or "") for p in packages.changes]
    return ["**Packages**", "", *_markdown_table(("package", "change", "before", "after"), rows), ""]


def _text_rows(rows: Sequence[Sequence[str]]) -> Iterator[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        yield "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()


def text(report: DiffReport) -> str:
    lines = [f"WARNING: {warning}" for warning in report.warnings]
    lines.append(headline(report))
    if report.identical:
        return "\n".join(lines) + "\n"
    lines += [
        "sizes (bytes):",
        *_text_rows([("", "before", "after", "change")] + [(s.what, *size_cells(s)) for s in report.sizes]),
    ]
    lines.append(f"files: {_counts(report)}")
    if report.directories:
        summary = [
            (d.directory, f"+{d.added}", f"-{d.removed}", f"~{d.changed}", signed(d.size_delta))
            for d in report.directories
        ]
        lines += _text_rows(summary)
        rows = [(c.change, c.path, *(file_cell(c, field) for field in FILE_FIELDS)) for c in report.files]
        lines += _text_rows([("", "path", *FILE_FIELDS), *rows])
    if report.packages.missing:
        lines += ["packages: not compared", *(f"  {line}" for line in report.packages.missing)]
    else:
        lines.append(
            f"packages: {len(report.packages.changes)} changed" if report.packages.changes else "packages: unchanged"
        )
        lines += [f"  {p.change} {p.name} {p.before or '-'} -> {p.after or '-'}" for p in report.packages.changes]
    if report.config:
        lines.append(f"image config changed: {', '.join(report.config)}")
    return "\n".join(lines) + "\n"


def as_json(report: DiffReport) -> str:
    data: dict[str, Any] = dataclasses.asdict(report)
    data["sizes"] = [{**dataclasses.asdict(s), "delta": s.delta, "relative": s.relative} for s in report.sizes]
    return json.dumps({"schema": 1, **data}, indent=2) + "\n"


RENDERERS: dict[str, Callable[[DiffReport], str]] = {"text": text, "markdown": markdown, "json": as_json}


def note(message: str, fmt: str) -> str:
    """A report that is one remark (e.g. no release to compare against) in format ``fmt``."""
    if fmt == "json":
        return json.dumps({"schema": 1, "note": message}) + "\n"
    return f"### Image diff\n\n{message}\n" if fmt == "markdown" else message + "\n"
