"""Bounded reads of what a container prints: at most OUTPUT_LIMIT bytes kept per stream (the tail),
and never past a deadline, however much or however long the command writes."""

from __future__ import annotations

import select
import socket
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

OUTPUT_LIMIT = 1 << 20  # bytes of each stream a check keeps (the last ones)
HEADER = struct.Struct(">BxxxL")  # Docker's multiplexed stream: stream id, 3 zero bytes, payload size
STDOUT, STDERR = 1, 2


@dataclass
class Tail:
    """The last ``limit`` bytes of a stream and how many bytes it had in all."""

    limit: int = OUTPUT_LIMIT
    total: int = 0
    data: bytearray = field(default_factory=bytearray)

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self.data += chunk
        if len(self.data) > 2 * self.limit:  # trimmed now and then, so adding stays cheap
            del self.data[: -self.limit]

    @property
    def overflowed(self) -> bool:
        return self.total > self.limit

    def text(self) -> str:
        return bytes(self.data[-self.limit :]).decode(errors="replace")

    def describe(self, label: str) -> str:
        """'stdout: N bytes, over the limit' when the tail is all that was kept."""
        return f"{label} printed {self.total} bytes, over the {self.limit} byte limit (the last {self.limit} kept)"


@dataclass
class Captured:
    stdout: Tail = field(default_factory=Tail)
    stderr: Tail = field(default_factory=Tail)
    timed_out: bool = False


def raw_socket(attached: Any) -> socket.socket:
    """The plain socket behind what docker-py's attach/exec socket calls return."""
    inner = getattr(attached, "_sock", attached)
    if not isinstance(inner, socket.socket):
        raise TypeError(f"the engine connection is not a socket ({type(inner).__name__})")
    return inner


def read_multiplexed(sock: socket.socket, deadline: float) -> Captured:
    """Read Docker's multiplexed stdout/stderr stream until it ends or ``deadline`` (monotonic) passes."""
    captured = Captured()
    streams = {STDOUT: captured.stdout, STDERR: captured.stderr}
    pending = bytearray()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            captured.timed_out = True
            return captured
        ready, _, _ = select.select([sock], [], [], min(remaining, 0.5))
        if not ready:
            continue
        chunk = sock.recv(1 << 16)
        if not chunk:
            return captured
        pending += chunk
        offset = 0
        while len(pending) - offset >= HEADER.size:
            stream, size = HEADER.unpack_from(pending, offset)
            end = offset + HEADER.size + size
            if len(pending) < end:
                break
            streams.get(stream, captured.stdout).add(bytes(pending[offset + HEADER.size : end]))
            offset = end
        del pending[:offset]


def read_chunks(chunks: Iterable[bytes], deadline: float, limit: int = OUTPUT_LIMIT) -> tuple[Tail, bool]:
    """The tail of a stream of chunks (docker-py's log stream) and whether ``deadline`` cut it short."""
    tail = Tail(limit)
    for chunk in chunks:
        tail.add(chunk)
        if time.monotonic() > deadline:
            return tail, True
    return tail, False
