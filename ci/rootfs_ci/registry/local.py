"""The embedded registry: Debian's ``docker-registry serve CONFIG`` on 127.0.0.1, detached.

Its config, pid file and log live in a state directory (the cache dir for ``invoke registry.up``,
a temp dir in tests). Starting is idempotent, stopping too; a pid is only signalled while /proc
says it still runs with this state dir's config, so a recycled pid is never killed.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

from rootfs_ci.errors import RegistryError

BINARY = "docker-registry"
HOST = "127.0.0.1"
PORT_KEY = "rootfs_ci.registry.local_port"


@dataclass(frozen=True)
class LocalRegistry:
    """Where one embedded registry listens and keeps its files: plain HTTP on loopback, no auth.

    The tests' registries add TLS and auth by overriding ``url``, ``tls_verify`` and ``server_config``.
    """

    port: int
    storage: Path
    state_dir: Path
    binary: str = BINARY

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @property
    def tls_verify(self) -> str | bool:
        """What requests' ``verify`` needs to trust ``url`` (a CA file, or True)."""
        return True

    @property
    def config_file(self) -> Path:
        return self.state_dir / "registry.yml"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "registry.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "registry.log"

    def server_config(self) -> dict[str, Any]:
        """docker-registry's configuration file, as a mapping."""
        return {
            "version": 0.1,
            "log": {"level": "info", "formatter": "text"},
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage)},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {
                "addr": self.address,
                "secret": secrets.token_hex(16),
                "headers": {"X-Content-Type-Options": ["nosniff"]},
            },
            "health": {"storagedriver": {"enabled": False}},
        }


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return True
    return False


def _alive(pid: int, config_file: Path) -> bool:
    """True while ``pid`` is a docker-registry serving ``config_file`` (reaps it if it is our exited child)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    state = stat.rpartition(")")[2].split()[0] if ")" in stat else "Z"
    return state != "Z" and str(config_file).encode() in cmdline


def _exited(pid: int) -> bool:
    """True once ``pid`` is gone or a zombie (reaps it if it is our child). Its cmdline empties while it
    exits, before its state says so, so a signalled process is waited on by state, not by cmdline."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


def _pid_file(registry: LocalRegistry) -> tuple[int, int] | None:
    """(pid, port) from the pid file, when that process still runs."""
    try:
        pid, port = (int(field) for field in registry.pid_file.read_text().split())
    except (OSError, ValueError):
        return None
    return (pid, port) if _alive(pid, registry.config_file) else None


def running_pid(registry: LocalRegistry) -> int | None:
    """The pid of the registry this state dir started, if it still runs."""
    found = _pid_file(registry)
    return found[0] if found else None


def _answers(registry: LocalRegistry) -> bool:
    """Any HTTP answer on /v2/ (200, or 401 with auth) means the registry is serving."""
    with requests.Session() as session:
        session.trust_env = False  # no proxy for loopback
        try:
            session.get(f"{registry.url}/v2/", timeout=1, verify=registry.tls_verify)
        except (requests.RequestException, OSError):
            return False
    return True


def _last_log_message(log_file: Path) -> str:
    try:
        lines = [line for line in log_file.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    for line in reversed(lines):
        if "level=fatal" in line or "level=error" in line or "panic" in line:
            match = re.search(r'msg="((?:[^"\\]|\\.)*)"', line)
            return match.group(1) if match else line[:200]
    return lines[-1][:200] if lines else "no log"


def start(registry: LocalRegistry, timeout: float = 20.0) -> tuple[int, bool]:
    """Start the registry detached and wait until /v2/ answers; returns (pid, it was already up)."""
    found = _pid_file(registry)
    if found is not None:
        pid, port = found
        if port != registry.port:
            raise RegistryError(
                f"the embedded registry already runs on {HOST}:{port} (pid {pid}); "
                "run 'invoke registry.down' first to move it"
            )
        return pid, True
    if shutil.which(registry.binary) is None:
        raise RegistryError(f"{registry.binary} is not installed; apt-get install docker-registry")
    if _port_taken(registry.port):
        what = "a registry that rootfs-ci did not start" if _answers(registry) else "another program"
        raise RegistryError(f"{registry.address} is taken by {what}; stop it or choose another port with {PORT_KEY}")
    registry.state_dir.mkdir(parents=True, exist_ok=True)
    registry.storage.mkdir(parents=True, exist_ok=True)
    registry.config_file.touch(mode=0o600)
    registry.config_file.write_text(yaml.safe_dump(registry.server_config(), sort_keys=False))
    with registry.log_file.open("ab") as log:
        process = subprocess.Popen(
            [registry.binary, "serve", str(registry.config_file)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    registry.pid_file.write_text(f"{process.pid} {registry.port}\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            registry.pid_file.unlink(missing_ok=True)
            raise RegistryError(
                f"{registry.binary} exited at start (code {process.returncode}): "
                f"{_last_log_message(registry.log_file)}; see {registry.log_file}"
            )
        if _answers(registry):
            return process.pid, False
        time.sleep(0.1)
    stop(registry)
    raise RegistryError(
        f"{registry.binary} did not answer on {registry.url}/v2/ within {timeout:.0f} s; see {registry.log_file}"
    )


def stop(registry: LocalRegistry, timeout: float = 10.0) -> int | None:
    """Stop the registry this state dir started; returns its pid, or None when it was not running."""
    pid = running_pid(registry)
    if pid is None:
        registry.pid_file.unlink(missing_ok=True)
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while not _exited(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if not _exited(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while not _exited(pid):
            time.sleep(0.05)
    registry.pid_file.unlink(missing_ok=True)
    return pid
