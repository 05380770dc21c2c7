"""HTTP for the registry client: a total deadline per request, capped bodies, checked redirects.

requests bounds each socket read, not a request: a server that drips a byte within the read
timeout holds a request forever, and ``response.content`` holds any body whole in memory. Here each
request runs under a timer that shuts its connection's socket down when the deadline passes (that
wakes a read blocked in another thread at once), bodies are read in chunks up to a cap, and
redirects are followed by hand, so every hop is checked: no HTTPS -> HTTP, and the Authorization
header only goes to the origin (scheme, host, port) it was given for.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPResponse
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager, ProxyManager

from rootfs_ci.errors import RegistryError

MAX_BODY = 4 << 20  # distribution's own limit for a manifest; tag lists, tokens and errors are far smaller
MAX_REDIRECTS = 5
MIN_UPLOAD_RATE = 128 << 10  # bytes/s an upload may take on top of the deadline
REDIRECTS = frozenset({301, 302, 303, 307, 308})
Origin = tuple[str, str, int]
Params = Mapping[str, str] | list[tuple[str, str]]
_DEFAULT_PORTS = {"http": 80, "https": 443}
_current = threading.local()


class LimitExceeded(RegistryError):
    """A response broke a bound (size, deadline, scheme, redirects); retrying the same server will not help."""


def origin(url: str) -> Origin:
    """(scheme, host, port), the scheme's default port filled in: what credentials are bound to."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme, 0)


class Deadline:
    """A timer; when it fires, the socket of the request running under it (this thread's) is shut down."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        _current.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        _current.deadline = None

    def watch(self, sock: socket.socket | None) -> None:
        with self._lock:
            self._sock = sock
            if self.expired:
                self._shut()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            self._shut()

    def _shut(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                # socket.socket's own shutdown, also for an SSLSocket (whose override would drop its TLS state).
                socket.socket.shutdown(self._sock, socket.SHUT_RDWR)


def _watch(sock: socket.socket | None) -> None:
    deadline: Deadline | None = getattr(_current, "deadline", None)
    if deadline is not None:
        deadline.watch(sock)


class _WatchedConnection(HTTPConnection):
    def getresponse(self) -> HTTPResponse:  # type: ignore[override]
        _watch(self.sock)
        return super().getresponse()


class _WatchedTLSConnection(HTTPSConnection):
    def getresponse(self) -> HTTPResponse:  # type: ignore[override]
        _watch(self.sock)
        return super().getresponse()


class _Pool(HTTPConnectionPool):
    ConnectionCls = _WatchedConnection


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedTLSConnection


def _watched_pools(manager: PoolManager) -> PoolManager:
    manager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}
    return manager


class _DeadlineAdapter(HTTPAdapter):
    """Connections whose sockets a Deadline can shut down (SOCKS proxies keep urllib3's own)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _watched_pools(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> PoolManager:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        return _watched_pools(manager) if type(manager) is ProxyManager else manager


def new_session(*, trust_env: bool) -> requests.Session:
    session = requests.Session()
    session.trust_env = trust_env
    adapter = _DeadlineAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@dataclass(frozen=True)
class Bounds:
    """How one peer (a registry or its token service) is spoken to."""

    label: str  # 'registry ghcr.io', for messages
    timeout: float  # per socket read
    deadline: float  # per request, redirects and body included
    max_body: int
    verify: str | bool
    https_only: bool  # an HTTPS registry: every hop (uploads, redirects, token realm) stays on HTTPS


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}"


def _check_scheme(url: str, bounds: Bounds, method: str) -> None:
    if bounds.https_only and urlsplit(url).scheme.lower() != "https":
        raise LimitExceeded(
            f"{bounds.label} sent {method} to plain HTTP (http://{_where(url)}) from HTTPS; refused: fix the "
            "URL the registry (or its TLS proxy, e.g. X-Forwarded-Proto) puts in Location headers"
        )


def _load(response: requests.Response, method: str, bounds: Bounds) -> None:
    """Read the body into ``response`` (so .content, .json() work), refusing more than ``max_body``."""
    if method == "HEAD":
        response.raw.read()  # nothing (http.client reads no HEAD body), but it frees the connection for reuse
        _keep(response, b"")
        return
    declared = response.headers.get("Content-Length", "").strip()
    body = bytearray()
    if not (declared.isdigit() and int(declared) > bounds.max_body):
        for chunk in response.iter_content(64 << 10):
            body += chunk
            if len(body) > bounds.max_body:
                break
    if len(body) > bounds.max_body or (declared.isdigit() and int(declared) > bounds.max_body):
        response.close()  # closes the connection: the rest is never read
        raise LimitExceeded(
            f"{bounds.label} sent more than {bounds.max_body / (1 << 20):g} MiB in answer to {method} "
            f"{urlsplit(response.url).path}; refused (a manifest, tag list, token or error is far smaller)"
        )
    _keep(response, bytes(body))


def _keep(response: requests.Response, body: bytes) -> None:
    """Store a fully read body as requests does, and hand the connection back to the pool."""
    response._content = body
    response._content_consumed = True  # type: ignore[attr-defined]
    response.close()


def exchange(
    session: requests.Session,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    body: bytes | None,
    params: Params | None,
    authorization: tuple[str, Origin] | None,
    bounds: Bounds,
) -> requests.Response:
    """One attempt of a request under its deadline: GET/HEAD redirects followed, the body read and capped.

    ``authorization`` is the header value and the only origin it may be sent to.
    """
    seconds = bounds.deadline + len(body or b"") / MIN_UPLOAD_RATE
    with Deadline(seconds) as deadline:
        try:
            send = {"headers": headers, "data": body, "params": params}
            response = _follow(session, method, url, send, authorization, bounds)
        except requests.RequestException:
            if deadline.expired:
                raise _too_slow(bounds, method, url, seconds) from None
            raise
        if deadline.expired:  # the shut socket can look like the end of a body without a length
            raise _too_slow(bounds, method, url, seconds)
    return response


def _too_slow(bounds: Bounds, method: str, url: str, seconds: float) -> LimitExceeded:
    return LimitExceeded(
        f"{bounds.label} did not finish answering {method} {urlsplit(url).path} within {seconds:.0f} s "
        "(the deadline per request); refused: check the registry and the network"
    )


def _follow(
    session: requests.Session,
    method: str,
    url: str,
    send: dict[str, Any],
    authorization: tuple[str, Origin] | None,
    bounds: Bounds,
) -> requests.Response:
    """``send``: the headers, data and params of the first hop (later hops go to their Location as is)."""
    for _ in range(MAX_REDIRECTS + 1):
        _check_scheme(url, bounds, method)
        headers = dict(send["headers"])
        if authorization is not None and origin(url) == authorization[1]:
            headers["Authorization"] = authorization[0]
        response = session.request(
            method,
            url,
            headers=headers,
            data=send["data"],
            params=send["params"],
            timeout=bounds.timeout,
            verify=bounds.verify,
            allow_redirects=False,
            stream=True,
        )
        location = response.headers.get("Location", "")
        if method in ("GET", "HEAD") and response.status_code in REDIRECTS and location:
            response.close()
            url, send = urljoin(response.url, location), {**send, "params": None}
            continue
        _load(response, method, bounds)
        return response
    raise LimitExceeded(f"{bounds.label} redirected {method} {urlsplit(url).path} more than {MAX_REDIRECTS} times")
