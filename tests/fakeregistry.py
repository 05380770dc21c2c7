"""A scriptable loopback server for registry behaviour a real registry does not show on demand:
lying headers, endless or dripping bodies, https -> http Locations, odd token realms.

With ``tls``, one port speaks TLS and plain HTTP (told apart by the first byte), so a request
downgraded to http:// on the same host and port is answered and recorded as "http". Loops that
stream or drip are bounded and stop when the server closes; every request is recorded.
"""

from __future__ import annotations

import hashlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Seen:
    scheme: str
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes = b""


Answer = Callable[["FakeServer", BaseHTTPRequestHandler, Seen], None]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    context: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.context is not None:
            request.settimeout(5)
            try:
                first = request.recv(1, socket.MSG_PEEK)
                if first == b"\x16":  # a TLS ClientHello
                    request = self.context.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                return
        super().finish_request(request, client_address)


class FakeServer:
    def __init__(self, answer: Answer, *, tls: tuple[Path, Path] | None = None) -> None:
        self.answer = answer
        self.seen: list[Seen] = []
        self.sent = 0  # body bytes streamed or dripped so far
        self.stopped_streams = 0  # streams and drips that have ended (finished, or the client went away)
        self.stopping = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                scheme = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
                seen = Seen(scheme, self.command, self.path, dict(self.headers.items()), body)
                fake.seen.append(seen)
                try:
                    fake.answer(fake, self, seen)
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    self.close_connection = True

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self._server = _Server(("127.0.0.1", 0), Handler)
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self._server.context = context
        self.scheme = "https" if tls else "http"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.address}"

    def close(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- answers ------------------------------------------------------------------------------

    @staticmethod
    def reply(
        handler: BaseHTTPRequestHandler, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> None:
        handler.send_response(status)
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)

    @classmethod
    def reply_json(cls, handler: BaseHTTPRequestHandler, status: int, data: Any, **headers: str) -> None:
        cls.reply(handler, status, json.dumps(data).encode(), {"Content-Type": "application/json", **headers})

    def stream(self, handler: BaseHTTPRequestHandler, total: int, *, declare: bool, status: int = 200) -> None:
        """``total`` zero bytes in 1 MiB writes, with or without a Content-Length; stops when the client does."""
        handler.send_response(status)
        handler.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        if declare:
            handler.send_header("Content-Length", str(total))
        else:
            handler.send_header("Connection", "close")
            handler.close_connection = True
        handler.end_headers()
        chunk = bytes(1 << 20)
        try:
            while self.sent < total and not self.stopping.is_set():
                handler.wfile.write(chunk)
                self.sent += len(chunk)
        finally:
            self.stopped_streams += 1

    def drip(self, handler: BaseHTTPRequestHandler, *, every: float, count: int, in_headers: bool = False) -> None:
        """One byte every ``every`` seconds, ``count`` at most: in the body (declared 1000 bytes) or the headers."""
        handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
        if not in_headers:
            handler.wfile.write(b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
        handler.wfile.flush()
        handler.close_connection = True
        try:
            for _ in range(count):
                if self.stopping.wait(every):
                    break
                handler.wfile.write(b"X" if in_headers else b" ")
                handler.wfile.flush()
                self.sent += 1
        finally:
            self.stopped_streams += 1


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


class ReferrersRegistry:
    """An in-memory registry with the distribution spec 1.1 referrers API, for the path Debian's
    docker-registry 2.8 does not take: blobs (monolithic upload), manifests by digest or tag,
    OCI-Subject on a PUT of a manifest with a ``subject``, and GET /v2/NAME/referrers/DIGEST with
    the artifactType filter. Use ``answer`` as a FakeServer's answer."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[str, tuple[bytes, str]] = {}  # digest or tag -> (bytes, media type)

    @staticmethod
    def _digest(data: bytes) -> str:
        return "sha256:" + hashlib.sha256(data).hexdigest()

    def answer(self, fake: FakeServer, handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        parts = urlsplit(seen.path)
        query = parse_qs(parts.query)
        path = parts.path.removeprefix("/v2/")
        for marker in ("/blobs/uploads/", "/blobs/", "/manifests/", "/referrers/"):
            name, found, reference = path.partition(marker)
            if not found:
                continue
            if marker == "/blobs/uploads/":
                self._upload(fake, handler, seen, name, query)
            elif marker == "/blobs/":
                self._blob(fake, handler, reference)
            elif marker == "/manifests/":
                self._manifest(fake, handler, seen, reference)
            else:
                self._referrers(fake, handler, reference, query.get("artifactType", [""])[0])
            return
        fake.reply_json(handler, 200, {})

    def _upload(
        self, fake: FakeServer, handler: BaseHTTPRequestHandler, seen: Seen, name: str, query: Mapping[str, list[str]]
    ) -> None:
        if seen.method == "POST":
            fake.reply(handler, 202, headers={"Location": f"/v2/{name}/blobs/uploads/u1"})
            return
        digest = query["digest"][0]
        if self._digest(seen.body) != digest:
            fake.reply_json(handler, 400, {"errors": [{"code": "DIGEST_INVALID"}]})
            return
        self.blobs[digest] = seen.body
        fake.reply(handler, 201, headers={"Docker-Content-Digest": digest})

    def _blob(self, fake: FakeServer, handler: BaseHTTPRequestHandler, digest: str) -> None:
        if digest in self.blobs:
            fake.reply(handler, 200, self.blobs[digest], {"Docker-Content-Digest": digest})
        else:
            fake.reply_json(handler, 404, {"errors": [{"code": "BLOB_UNKNOWN"}]})

    def _manifest(self, fake: FakeServer, handler: BaseHTTPRequestHandler, seen: Seen, reference: str) -> None:
        if seen.method == "PUT":
            digest = self._digest(seen.body)
            stored = (seen.body, seen.headers.get("Content-Type", ""))
            self.manifests[digest] = self.manifests[reference] = stored
            headers = {"Docker-Content-Digest": digest}
            subject = (json.loads(seen.body).get("subject") or {}).get("digest")
            if subject:
                headers["OCI-Subject"] = subject
            fake.reply(handler, 201, headers=headers)
        elif reference in self.manifests:
            body, media_type = self.manifests[reference]
            fake.reply(handler, 200, body, {"Content-Type": media_type, "Docker-Content-Digest": self._digest(body)})
        else:
            fake.reply_json(handler, 404, {"errors": [{"code": "MANIFEST_UNKNOWN"}]})

    def _referrers(self, fake: FakeServer, handler: BaseHTTPRequestHandler, subject: str, wanted: str) -> None:
        entries = []
        for digest, (body, media_type) in sorted(self.manifests.items()):
            manifest = json.loads(body)
            if digest.startswith("sha256:") and (manifest.get("subject") or {}).get("digest") == subject:
                entry = {"mediaType": media_type, "digest": digest, "size": len(body)}
                entry |= {key: manifest[key] for key in ("artifactType", "annotations") if key in manifest}
                if not wanted or entry.get("artifactType") == wanted:
                    entries.append(entry)
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}
        headers = {"OCI-Filters-Applied": "artifactType"} if wanted else {}
        fake.reply(handler, 200, json.dumps(index).encode(), {"Content-Type": index["mediaType"], **headers})
