"""Which smoke checks run together (rootfs_ci.smoke.plan): waves by what a check does to the container,
positions in the report's order."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, cast

from rootfs_ci.smoke import checks, plan
from rootfs_ci.smoke.spec import LicenseTest, load_spec

SPEC = Path(__file__).resolve().parents[1] / "smoke" / "apacheinit.yaml"


def planned() -> list[plan.Planned]:
    target = cast(checks.Target, object())  # the plan only binds it; nothing runs here
    return plan.plan(load_spec(SPEC), target, client=None)


def function_and_test(check: plan.Planned) -> tuple[str, Any]:
    bound = cast(partial[Any], check.run)
    return bound.func.__name__, (bound.args[0] if bound.args else None)


def test_waves_follow_what_each_check_does_to_the_container() -> None:
    waves: dict[str, set[plan.Wave]] = {}
    for check in planned():
        name, test = function_and_test(check)
        key = f"{name} exec" if getattr(test, "exec", False) else name
        waves.setdefault(key, set()).add(check.wave)
    assert waves == {
        "file_existence_check": {plan.Wave.INSPECT},
        "file_content_check": {plan.Wave.INSPECT},
        "pid1_check": {plan.Wave.PROCESS_TABLE},
        "process_check": {plan.Wave.PROCESS_TABLE},
        "http_check": {plan.Wave.INSPECT},
        "host_kernel_check": {plan.Wave.INSPECT},
        "log_check": {plan.Wave.LOGS},
        "command_check": {plan.Wave.OWN_CONTAINER},
        "interactive_check": {plan.Wave.OWN_CONTAINER},
    }


def test_positions_are_the_report_order() -> None:
    checks_in_plan = planned()
    assert [check.position for check in checks_in_plan] == list(range(len(checks_in_plan)))
    spec = load_spec(SPEC)
    commands = [function_and_test(c)[1] for c in checks_in_plan if function_and_test(c)[0] == "command_check"]
    assert [command.name for command in commands] == [test.name for test in spec.commandTests]
    # 27 checks in all: 7 image checks and "starts and is ready" before these 18, "stop" after them
    assert len(checks_in_plan) == 18


def test_exec_commands_and_licenses_have_their_waves() -> None:
    """``exec: true`` runs in the CMD's container, after the process table was read (INSPECT); CST's
    own way gets its own container; license checks only read files (INSPECT)."""
    spec = load_spec(SPEC)
    first, second = spec.commandTests[:2]
    spec = spec.model_copy(
        update={
            "commandTests": (first.model_copy(update={"exec": True}), second),
            "licenseTests": (LicenseTest(debian=True),),
        }
    )
    target = cast(checks.Target, object())
    waves: dict[str, list[plan.Wave]] = {}
    for check in plan.plan(spec, target, client=None):
        name = function_and_test(check)[0]
        waves.setdefault(name, []).append(check.wave)
    assert waves["command_check"] == [plan.Wave.INSPECT, plan.Wave.OWN_CONTAINER]
    assert waves["license_check"] == [plan.Wave.INSPECT]
