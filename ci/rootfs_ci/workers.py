"""Bounded thread pools whose workers leave INT and TERM to the main thread.

Python runs signal handlers in the main thread only, but the kernel may deliver a signal to any
thread that does not block it; a worker that did would let a second Ctrl-C through while the main
thread holds signals back (rootfs_ci.signals.signals_deferred) to finish its cleanup.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from rootfs_ci.signals import STOP_SIGNALS


def _block_stop_signals() -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


@contextlib.contextmanager
def thread_pool(max_workers: int, name: str) -> Iterator[ThreadPoolExecutor]:
    """At the end of the block, work not yet started is dropped and the running work is waited for."""
    pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=name, initializer=_block_stop_signals)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
