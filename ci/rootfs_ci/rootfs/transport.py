"""HTTP downloads into the cache: streamed to a temp file, checked, then renamed into place."""

from __future__ import annotations

import hashlib
from pathlib import Path

import requests

from rootfs_ci.errors import BackendError
from rootfs_ci.fsutil import atomic_output

TIMEOUT = (10, 60)  # connect, read (seconds)


class Unavailable(Exception):
    """The URL did not give the file (not found, unreachable); another source may still have it."""


def download(url: str, destination: Path, *, sha256: str | None = None, size: int | None = None) -> None:
    """Fetch ``url`` to ``destination`` atomically; a file whose sha256 (or size) differs is refused.

    Raises Unavailable when the server does not have the file or cannot be reached.
    """
    try:
        with requests.get(url, stream=True, timeout=TIMEOUT) as response:
            if response.status_code != 200:
                raise Unavailable(f"{url}: HTTP {response.status_code}")
            digest = hashlib.sha256()
            with atomic_output(destination) as tmp, tmp.open("wb") as handle:
                for chunk in response.iter_content(1 << 20):
                    digest.update(chunk)
                    handle.write(chunk)
                handle.flush()
                _check(url, digest.hexdigest(), handle.tell(), sha256, size)
    except requests.RequestException as exc:
        raise Unavailable(f"{url}: {type(exc).__name__}") from None


def _check(url: str, got_sha256: str, got_size: int, sha256: str | None, size: int | None) -> None:
    if sha256 is not None and got_sha256 != sha256:
        raise BackendError(f"refused {url}: its sha256 is {got_sha256}, expected {sha256}")
    if size is not None and got_size != size:
        raise BackendError(f"refused {url}: it has {got_size} bytes, expected {size}")
