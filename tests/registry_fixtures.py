"""Helpers for the registry tests: registries with TLS and auth, throwaway certificates, a loopback
token server, tiny images.

The token server is the honest version of a registry's Bearer flow: the real docker-registry runs
with ``auth.token`` whose realm is this server, and it verifies the RS256 JWTs signed here against
the certificate bundle it is given (x5c header). Anonymous callers get pull only; a known user gets
what it asks for; a wrong password gets 401.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import secrets
import socket
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import bcrypt
import yaml

from rootfs_ci.config import Settings, load_settings
from rootfs_ci.image.oci import ImageSettings, WrittenImage, write_image_archive
from rootfs_ci.records import ImageRecord, Layer, RootfsFile, RootfsRecord, SbomFile, SmokeRecord, write_record
from rootfs_ci.registry.local import HOST, LocalRegistry, start, stop
from rootfs_ci.sbom import SBOM_LABEL


@dataclass(frozen=True)
class SecuredRegistry(LocalRegistry):
    """The embedded registry with what only the tests need: TLS (``tls_cert``/``tls_key``) and ``auth``
    (docker-registry's auth section: htpasswd or token)."""

    tls_cert: Path | None = None
    tls_key: Path | None = None
    auth: Mapping[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls_cert else 'http'}://{self.address}"

    @property
    def tls_verify(self) -> str | bool:
        return str(self.tls_cert) if self.tls_cert else True

    def server_config(self) -> dict[str, Any]:
        config = super().server_config()
        if self.tls_cert and self.tls_key:
            config["http"]["tls"] = {"certificate": str(self.tls_cert), "key": str(self.tls_key)}
        if self.auth:
            config["auth"] = dict(self.auth)
        return config


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running(registry: LocalRegistry, timeout: float = 20.0) -> Iterator[LocalRegistry]:
    """A registry for the length of a block (tests, bench): started, then stopped whatever happens."""
    start(registry, timeout)
    try:
        yield registry
    finally:
        stop(registry)


def make_cert(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed RSA certificate for 127.0.0.1 (also its own CA); returns (cert, key)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def write_htpasswd(path: Path, users: dict[str, str]) -> Path:
    lines = [f"{user}:{bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4)).decode()}" for user, pw in users.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenServer:
    """Issues registry tokens; records every request as (user or None, scopes)."""

    cert: Path
    key: Path
    users: dict[str, str]
    service: str = "rootfs-ci-test"
    issuer: str = "rootfs-ci-test-issuer"
    requests: list[tuple[str | None, list[str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        pem = self.cert.read_text()
        body = pem.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
        self._x5c = "".join(body.split())
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                server._answer(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/token"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _user(self, header: str) -> tuple[bool, str | None]:
        if not header.startswith("Basic "):
            return True, None
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        ok = user in self.users and secrets.compare_digest(self.users[user], password)
        return ok, user

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        query = parse_qs(urlsplit(handler.path).query)
        scopes = [scope for value in query.get("scope", []) for scope in value.split()]
        ok, user = self._user(handler.headers.get("Authorization", ""))
        self.requests.append((user, scopes))
        if not ok:
            self._send(handler, 401, {"errors": [{"code": "UNAUTHORIZED", "message": "wrong user or password"}]})
            return
        access = []
        for scope in scopes:
            kind, name, actions = scope.split(":")
            granted = [a for a in actions.split(",") if user is not None or a == "pull"]
            access.append({"type": kind, "name": name, "actions": granted})
        token = self.sign(user or "", access)
        self._send(handler, 200, {"token": token, "access_token": token, "expires_in": 300})

    def sign(self, subject: str, access: list[dict[str, Any]]) -> str:
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.key)],
            input=signing_input.encode(),
            capture_output=True,
            check=True,
        ).stdout
        return f"{signing_input}.{_b64url(signature)}"

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


@dataclass(frozen=True)
class AuthRegistry:
    registry: SecuredRegistry
    user: str
    password: str
    target: str
    ca_file: Path | None = None
    token_server: TokenServer | None = None


def rootfs_tar(path: Path, files: dict[str, bytes]) -> str:
    """A tiny rootfs tar; returns its sha256 (the layer's diff_id)."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_tiny_image(
    directory: Path, content: bytes, *, arch: str = "x86_64", reference: str = "tiny:dev", files: int = 1
) -> WrittenImage:
    """image.tar (OCI layout) + layer.tar.gz in ``directory`` from a rootfs holding ``content``."""
    directory.mkdir(parents=True, exist_ok=True)
    entries = {f"etc/file{i}": content + str(i).encode() for i in range(files)}
    sha = rootfs_tar(directory / "rootfs.tar", entries)
    settings = ImageSettings(arch, ("/bin/sh",), (), {"org.opencontainers.image.version": "test"}, 0, "test")
    written = write_image_archive(
        directory / "rootfs.tar", sha, directory / "layer.tar.gz", directory / "image.tar", settings, reference
    )
    (directory / "rootfs.tar").unlink()
    return written


def write_rootfs_record(directory: Path, image: str, arch: str, rootfs_sha256: str, content: bytes) -> str:
    """rootfs.json and sbom.json as the build stage writes them (a one-component SBOM); the SBOM's digest."""
    sbom = json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "metadata": {"component": {"name": image}}})
    sbom_bytes = sbom.encode() + content
    (directory / "sbom.json").write_bytes(sbom_bytes)
    sbom_sha = hashlib.sha256(sbom_bytes).hexdigest()
    record = RootfsRecord(
        tool="rootfs-ci test",
        image=image,
        arch=arch,
        backend="debian",
        rootfs=RootfsFile(path="rootfs.tar", sha256=rootfs_sha256, size=0),
        source_date_epoch=0,
        overlays=(),
        packages=(),
        sbom=SbomFile(
            path="sbom.json", sha256=sbom_sha, media_type="application/vnd.cyclonedx+json", spec_version="1.6"
        ),
        labels={SBOM_LABEL: f"sha256:{sbom_sha}"},
    )
    write_record(directory / RootfsRecord.FILE, record)
    return f"sha256:{sbom_sha}"


def write_records(directory: Path, image: str, arch: str, written: WrittenImage, *, passed: bool = True) -> None:
    """rootfs.json, sbom.json, image.json and smoke.json as the stages write them, for a tiny image."""
    rootfs_sha256 = written.diff_id.removeprefix("sha256:")
    sbom = write_rootfs_record(directory, image, arch, rootfs_sha256, written.manifest.digest.encode())
    image_record = ImageRecord(
        image=image,
        arch=arch,
        reference=f"{image}:dev",
        image_id=written.config.digest,
        config_digest=written.config.digest,
        manifest_digest=written.manifest.digest,
        layer=Layer(digest=written.layer.digest, size=written.layer.size, diff_id=written.diff_id),
        rootfs_sha256=rootfs_sha256,
        rootfs_size=0,  # the rootfs.tar is gone; publish and verify read neither rootfs field
        labels={"org.opencontainers.image.version": "test", SBOM_LABEL: sbom},
    )
    smoke_record = SmokeRecord(
        image=image,
        arch=arch,
        reference=f"{image}:dev",
        image_id=written.config.digest,
        manifest_digest=written.manifest.digest,
        passed=passed,
        checks=(),
    )
    write_record(directory / ImageRecord.FILE, image_record)
    write_record(directory / SmokeRecord.FILE, smoke_record)


TINY = "tiny"
REPO = Path(__file__).resolve().parent.parent


def write_project(path: Path, *, target: str, local_port: int = 5000, version: str = "1.0.0") -> Path:
    """A minimal rootfs-ci project (tasks.py, invoke.yaml, CHANGELOG.md) with one image, 'tiny'."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "tasks.py").write_text((REPO / "tasks.py").read_text())
    config = {
        "rootfs_ci": {
            "default_image": TINY,
            "images": {
                TINY: {"backend": "debian", "platforms": ["x86_64", "aarch64"], "debian": {"packages": ["busybox"]}}
            },
            "registry": {"target": target, "local_port": local_port},
        }
    }
    (path / "invoke.yaml").write_text(json.dumps(config))  # JSON is YAML
    (path / "CHANGELOG.md").write_text(f"# Changelog\n\n## [Unreleased]\n\n## [{version}] - 2026-01-01\n")
    return path


def project_settings(project: Path) -> Settings:
    """The settings of a project write_project made, as the tasks load them (SOURCE_DATE_EPOCH 0)."""
    raw = yaml.safe_load((project / "invoke.yaml").read_text())["rootfs_ci"]
    return load_settings(raw, project, {"SOURCE_DATE_EPOCH": "0"})


def stage_tiny_image(project: Path, content: bytes, *, arch: str = "x86_64", passed: bool = True) -> WrittenImage:
    """dist/tiny/ARCH/ as the image and smoke stages leave it, for an image made from ``content``."""
    directory = project / "dist" / TINY / arch
    written = write_tiny_image(directory, content, arch=arch, reference=f"{TINY}:dev")
    write_records(directory, TINY, arch, written, passed=passed)
    return written
