"""Smoke results (records.CheckResult) shown as a console table, JUnit XML and a GitHub step summary."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from rootfs_ci.fsutil import write_atomic
from rootfs_ci.records import CheckResult


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def print_table(results: Sequence[CheckResult], stream: TextIO) -> None:
    width = max((len(f"{r.section}: {r.name}") for r in results), default=10)
    for result in results:
        mark = "PASS" if result.passed else "FAIL"
        print(f"  {mark}  {f'{result.section}: {result.name}':<{width}}  {result.seconds:6.2f}s", file=stream)
    passed = sum(r.passed for r in results)
    print(f"{passed} passed, {len(results) - passed} failed", file=stream)


def print_failures(results: Sequence[CheckResult], logs: str, stream: TextIO) -> None:
    for result in results:
        if not result.passed:
            print(f"FAILED {result.section}: {result.name}", file=stream)
            print(f"  expected: {_short(result.expected, 300)}", file=stream)
            print(f"  got:      {_short(result.got, 300)}", file=stream)
    if logs:
        print("container log (last lines):", file=stream)
        for line in logs.splitlines():
            print(f"  | {line}", file=stream)


def junit_xml(suite: str, results: Sequence[CheckResult]) -> bytes:
    root = ET.Element(
        "testsuite",
        name=suite,
        tests=str(len(results)),
        failures=str(sum(not r.passed for r in results)),
        time=f"{sum(r.seconds for r in results):.3f}",
    )
    for result in results:
        case = ET.SubElement(
            root, "testcase", classname=f"{suite}.{result.section}", name=result.name, time=f"{result.seconds:.3f}"
        )
        if not result.passed:
            failure = ET.SubElement(case, "failure", message=_short(f"expected {result.expected}", 200))
            failure.text = f"expected: {result.expected}\ngot: {result.got}"
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def write_junit(path: Path, suite: str, results: Sequence[CheckResult]) -> None:
    write_atomic(path, junit_xml(suite, results))


def step_summary(suite: str, results: Sequence[CheckResult]) -> list[str]:
    """Markdown lines for the run's summary page: a heading with the verdict and one row per check."""
    passed = sum(r.passed for r in results)
    verdict = "passed" if passed == len(results) else "FAILED"
    lines = [
        f"### Smoke {suite}: {verdict} ({passed}/{len(results)})",
        "",
        "| check | result | time |",
        "|---|---|---|",
    ]
    for result in results:
        mark = "✅" if result.passed else "❌"
        lines.append(f"| {result.section}: {result.name} | {mark} | {result.seconds:.2f}s |")
    return [*lines, ""]  # a blank line before the next suite's heading
