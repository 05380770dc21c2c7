"""Progress lines for long work: one plain line per step with the elapsed time."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Prints ``[stage name +elapsed] message`` lines; plain text works on a TTY and in CI logs alike."""

    def __init__(self, stage: str, subject: str = "", stream: TextIO | None = None) -> None:
        self.label = f"{stage} {subject}".strip()
        self.stream = stream if stream is not None else sys.stderr
        self.started = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def step(self, message: str) -> None:
        print(f"[{self.label} +{self.elapsed:.1f}s] {message}", file=self.stream, flush=True)
