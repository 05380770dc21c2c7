"""A loopback HTTP proxy in front of a real registry that injects faults into the next N requests.

Faults: ``500`` (answer 500 without forwarding), ``429`` (answer 429 with Retry-After), ``drop``
(close the connection without forwarding or answering), ``drop_after`` (forward, so the registry
acts, then close without answering), ``truncate`` (forward, then send only half the body under the
full Content-Length). Every request is recorded, so tests can count retries and skipped uploads.
The Host header is passed through, so the registry's Location headers point back at the proxy.
"""

from __future__ import annotations

import http.client
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "trailer", "upgrade"}
KINDS = ("500", "429", "drop", "drop_after", "truncate")


@dataclass
class Fault:
    kind: str
    count: int
    method: str | None
    path_contains: str | None
    retry_after: int

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path_contains is None or self.path_contains in path
        )


class FaultProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        # distribution 2.8 ignores ?n= on tag lists; this pages them as the spec (and distribution 3) does.
        self.paginate_tags = False
        self.requests: list[tuple[str, str]] = []
        self.injected: list[tuple[str, str, str]] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _handle(self) -> None:
                proxy._serve(self)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def inject(
        self,
        kind: str,
        count: int = 1,
        *,
        method: str | None = None,
        path_contains: str | None = None,
        retry_after: int = 1,
    ) -> None:
        assert kind in KINDS, kind
        with self._lock:
            self._faults.append(Fault(kind, count, method, path_contains, retry_after))

    def pending(self) -> int:
        with self._lock:
            return sum(fault.count for fault in self._faults)

    def count(self, method: str, path_contains: str = "") -> int:
        with self._lock:
            return sum(1 for m, p in self.requests if m == method and path_contains in p)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            self.requests.append((method, path))
            for fault in self._faults:
                if fault.count > 0 and fault.matches(method, path):
                    fault.count -= 1
                    self.injected.append((fault.kind, method, path))
                    self._faults = [f for f in self._faults if f.count > 0]
                    return fault
        return None

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        method, path = handler.command, handler.path
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        fault = self._take(method, path)
        if fault is not None and fault.kind in ("500", "429"):
            status = int(fault.kind)
            payload = b'{"errors":[{"code":"UNKNOWN","message":"injected by the fault proxy"}]}'
            handler.send_response(status)
            if status == 429:
                handler.send_header("Retry-After", str(fault.retry_after))
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            if method != "HEAD":
                handler.wfile.write(payload)
            return
        if fault is not None and fault.kind == "drop":
            handler.close_connection = True
            return
        if self.paginate_tags and method == "GET" and "/tags/list" in path:
            status, reason, headers, payload = self._tag_page(path, handler)
        else:
            status, reason, headers, payload = self._forward(method, path, handler, body)
        if fault is not None and fault.kind == "drop_after":
            handler.close_connection = True
            return
        handler.send_response(status, reason)
        for key, value in headers:
            if key.lower() not in HOP_BY_HOP and key.lower() not in ("content-length", "date", "server"):
                handler.send_header(key, value)
        upstream_length = next((v for k, v in headers if k.lower() == "content-length"), None)
        if method == "HEAD":
            handler.send_header("Content-Length", upstream_length or "0")
        else:
            handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        if method == "HEAD":
            return
        if fault is not None and fault.kind == "truncate":
            handler.wfile.write(payload[: len(payload) // 2])
            handler.wfile.flush()
            handler.close_connection = True
            return
        handler.wfile.write(payload)

    def _tag_page(self, path: str, handler: BaseHTTPRequestHandler) -> tuple[int, str, list[tuple[str, str]], bytes]:
        url = urlsplit(path)
        query = parse_qs(url.query)
        status, reason, headers, payload = self._forward("GET", url.path, handler, b"")
        if status != 200 or "n" not in query:
            return status, reason, headers, payload
        data = json.loads(payload)
        size, last = int(query["n"][0]), query.get("last", [""])[0]
        remaining = [tag for tag in sorted(data.get("tags") or []) if tag > last]
        data["tags"] = remaining[:size]
        headers = [(k, v) for k, v in headers if k.lower() != "link"]
        if len(remaining) > size:
            headers.append(("Link", f'<{url.path}?n={size}&last={data["tags"][-1]}>; rel="next"'))
        return status, reason, headers, json.dumps(data).encode()

    def _forward(
        self, method: str, path: str, handler: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=60)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP}
            connection.request(
                method, path, body=body if body or method in ("PUT", "POST", "PATCH") else None, headers=headers
            )
            response = connection.getresponse()
            payload = response.read()
            return response.status, response.reason, response.getheaders(), payload
        finally:
            connection.close()
