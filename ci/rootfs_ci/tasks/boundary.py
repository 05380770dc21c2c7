"""The error boundary between Invoke and our functions: settings in, one-line errors and exit codes out."""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from invoke.context import Context
from invoke.exceptions import Exit

from rootfs_ci.config.keys import NAMESPACE
from rootfs_ci.errors import RootfsCiError
from rootfs_ci.redaction import redact
from rootfs_ci.signals import term_as_interrupt

if TYPE_CHECKING:
    from rootfs_ci.config import Settings

P = ParamSpec("P")
R = TypeVar("R")


def settings(c: Context) -> Settings:
    from rootfs_ci.config import load_settings

    raw = c.config.get(NAMESPACE) or {}
    project_dir = Path(raw.get("project_dir") or ".").resolve()
    return load_settings(raw, project_dir, os.environ)


# C0 and C1 controls (newline, carriage return, escape, ...): a user value holding one must not split
# the error line or drive the terminal, so it is shown escaped, as repr() would.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def one_line(message: str) -> str:
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), message)


def fail(message: str, code: int) -> Exit:
    """The error line; credentials in a URL-like value of the message (user:secret@host) are masked."""
    return Exit(f"rootfs-ci: error: {one_line(redact(message))}", code=code)


def boundary(func: Callable[P, R]) -> Callable[P, R]:
    """Turn our exceptions into one line on stderr and the error's exit code; never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            with term_as_interrupt():
                return func(*args, **kwargs)
        except RootfsCiError as exc:
            raise fail(str(exc), exc.exit_code) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None

    return wrapper


def emit(*lines: Any) -> None:
    """Results go to stdout (progress goes to stderr), so they can be piped."""
    for line in lines:
        print(line, file=sys.stdout, flush=True)
