"""A throwaway signed Debian archive on loopback, for the debian backend's lock tests.

Tiny .debs built with dpkg-deb, Packages and Release written here, InRelease clear-signed with a
key made for the test (its public keyring is what the project's config points at), served by
http.server on 127.0.0.1. Nothing of the host's apt is read or used.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SUITE = "bookworm"


@dataclass(frozen=True)
class Deb:
    name: str
    version: str
    arch: str
    path: Path

    def pool_path(self, pool: str = "pool/main") -> str:
        return f"{pool}/{self.name[0]}/{self.name}/{self.path.name}"


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class LocalArchive:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.archive = root / "debian"
        self.gnupg = root / "gnupg"
        self.keyring = root / "test-keyring.gpg"
        self.url = ""
        self.gnupg.mkdir(parents=True, mode=0o700)
        self._gpg("--quick-gen-key", "rootfs-ci test archive <archive@example.invalid>", "ed25519", "sign", "never")
        self.keyring.write_bytes(self._gpg("--export").stdout)

    def _gpg(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["gpg", "--homedir", str(self.gnupg), "--batch", "--pinentry-mode", "loopback", "--passphrase", "",
             *args],
            input=stdin, capture_output=True, check=True,
        )  # fmt: skip

    def make_deb(self, name: str, version: str, files: dict[str, str], arch: str = "amd64") -> Deb:
        """A .deb holding ``files`` (path -> text), built with dpkg-deb."""
        tree = self.root / "build" / f"{name}-{version}"
        (tree / "DEBIAN").mkdir(parents=True)
        (tree / "DEBIAN" / "control").write_text(
            f"Package: {name}\nVersion: {version}\nArchitecture: {arch}\nMaintainer: Test <t@example.invalid>\n"
            f"Description: test package\n"
        )
        for path, text in files.items():
            (tree / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
            (tree / path.lstrip("/")).write_text(text)
        deb = self.root / "debs" / f"{name}_{version}_{arch}.deb"
        deb.parent.mkdir(exist_ok=True)
        subprocess.run(
            ["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(tree), str(deb)],
            capture_output=True,
            check=True,
        )
        return Deb(name, version, arch, deb)

    def publish(self, *debs: Deb, arch: str = "amd64", suite: str = SUITE, archive: str = "debian",
                pool: str = "pool/main") -> None:  # fmt: skip
        """Make the archive (URL ``.../ARCHIVE``, one suite) hold exactly ``debs`` (pool files of
        earlier ones are removed). The security archive's layout: ``pool="pool/updates/main"``."""
        root = self.root / archive
        shutil.rmtree(root, ignore_errors=True)
        stanzas = []
        for deb in debs:
            target = root / deb.pool_path(pool)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(deb.path, target)
            data = target.read_bytes()
            stanzas.append(
                f"Package: {deb.name}\nVersion: {deb.version}\nArchitecture: {deb.arch}\n"
                f"Filename: {deb.pool_path(pool)}\nSize: {len(data)}\nSHA256: {hashlib.sha256(data).hexdigest()}\n"
            )
        packages = "\n".join(stanzas).encode()
        index_dir = root / "dists" / suite / "main" / f"binary-{arch}"
        index_dir.mkdir(parents=True)
        (index_dir / "Packages").write_bytes(packages)
        (index_dir / "Packages.gz").write_bytes(gzip.compress(packages, mtime=0))
        self._sign_release(root / "dists" / suite, suite, arch)

    def _sign_release(self, dists: Path, suite: str, arch: str) -> None:
        lines = [f"Suite: {suite}", f"Codename: {suite}", f"Architectures: {arch}", "Components: main", "SHA256:"]
        for path in sorted(dists.rglob("Packages*")):
            data = path.read_bytes()
            lines.append(f" {hashlib.sha256(data).hexdigest()} {len(data)} {path.relative_to(dists)}")
        release = ("\n".join(lines) + "\n").encode()
        (dists / "Release").write_bytes(release)
        (dists / "InRelease").write_bytes(self._gpg("--clearsign", stdin=release).stdout)

    @contextmanager
    def serving(self) -> Iterator[str]:
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=os.fspath(self.root))
        )
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            self.url = f"http://127.0.0.1:{server.server_address[1]}/debian"
            yield self.url
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
