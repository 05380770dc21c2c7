"""The embedded registry: docker-registry started detached on loopback, idempotent up and down."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import requests

from rootfs_ci.errors import RegistryError
from rootfs_ci.registry.local import LocalRegistry, running_pid, start, stop
from tests.helpers import Project
from tests.registry_fixtures import SecuredRegistry, free_port, running, write_project


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_start_is_idempotent_and_stop_leaves_nothing_running(tmp_path: Path) -> None:
    registry = LocalRegistry(free_port(), tmp_path / "storage", tmp_path / "state")
    pid, already = start(registry)
    try:
        assert already is False
        assert requests.get(f"{registry.url}/v2/", timeout=5).status_code == 200
        assert start(registry) == (pid, True)
        assert running_pid(registry) == pid
        moved = LocalRegistry(free_port(), registry.storage, registry.state_dir)
        with pytest.raises(RegistryError) as caught:
            start(moved)
        assert str(caught.value) == (
            f"the embedded registry already runs on {registry.address} (pid {pid}); "
            "run 'invoke registry.down' first to move it"
        )
    finally:
        assert stop(registry) == pid
    assert not alive(pid)
    assert not registry.pid_file.exists()
    assert stop(registry) is None
    assert registry.storage.is_dir()


def test_a_port_taken_by_another_program_is_refused(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        registry = LocalRegistry(port, tmp_path / "storage", tmp_path / "state")
        with pytest.raises(RegistryError) as caught:
            start(registry)
    assert str(caught.value) == (
        f"127.0.0.1:{port} is taken by another program; stop it or choose another port with "
        "rootfs_ci.registry.local_port"
    )
    assert not registry.pid_file.exists()


def test_a_registry_someone_else_started_is_named(registry_server: LocalRegistry, tmp_path: Path) -> None:
    mine = LocalRegistry(registry_server.port, tmp_path / "storage", tmp_path / "state")
    with pytest.raises(RegistryError, match="is taken by a registry that rootfs-ci did not start"):
        start(mine)


def test_missing_binary_and_a_failing_start_are_clear(tmp_path: Path) -> None:
    missing = LocalRegistry(free_port(), tmp_path / "s", tmp_path / "st", binary="no-such-docker-registry")
    with pytest.raises(RegistryError, match=r"^no-such-docker-registry is not installed; apt-get install docker-reg"):
        start(missing)
    broken = SecuredRegistry(
        free_port(), tmp_path / "s", tmp_path / "st", tls_cert=tmp_path / "none.crt", tls_key=tmp_path / "none.key"
    )
    with pytest.raises(RegistryError) as caught:
        start(broken)
    assert str(caught.value).startswith("docker-registry exited at start (code ")
    assert "none.crt" in str(caught.value)
    assert str(caught.value).endswith(f"see {broken.log_file}")
    assert running_pid(broken) is None


def test_running_stops_the_registry_when_the_block_fails(tmp_path: Path) -> None:
    registry = LocalRegistry(free_port(), tmp_path / "storage", tmp_path / "state")
    with pytest.raises(RuntimeError), running(registry):
        pid = running_pid(registry)
        raise RuntimeError("test")
    assert pid is not None
    assert not alive(pid)


def test_invoke_registry_up_and_down(tmp_path: Path) -> None:
    port = free_port()
    project = Project(write_project(tmp_path / "project", target=f"127.0.0.1:{port}", local_port=port))
    pid_file = project.path / ".cache" / "rootfs-ci" / "registry-server" / "registry.pid"
    try:
        first = project.invoke("registry.up")
        assert first.returncode == 0, first.stderr
        pid = int(pid_file.read_text().split()[0])
        assert first.stdout.startswith(f"registry 127.0.0.1:{port} is up (pid {pid}, storage ")
        # The invoke process is gone; the registry it started still serves.
        assert requests.get(f"http://127.0.0.1:{port}/v2/", timeout=5).status_code == 200
        again = project.invoke("registry.up")
        assert (again.returncode, again.stdout) == (0, f"registry 127.0.0.1:{port} is already up (pid {pid})\n")
        assert (project.path / ".cache" / "rootfs-ci" / "registry").is_dir()  # rootfs_ci.registry.local_storage
    finally:
        down = project.invoke("registry.down")
    assert down.returncode == 0, down.stderr
    assert down.stdout == f"registry 127.0.0.1:{port} stopped (pid {pid})\n"
    assert not alive(pid)
    down_again = project.invoke("registry.down")
    assert (down_again.returncode, down_again.stdout) == (0, f"registry 127.0.0.1:{port} was not running\n")


def test_invoke_registry_up_on_a_taken_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        project = Project(write_project(tmp_path / "project", target=f"127.0.0.1:{port}", local_port=port))
        result = project.invoke("registry.up")
    assert result.returncode == 7
    assert result.stderr.strip().splitlines() == [
        f"rootfs-ci: error: 127.0.0.1:{port} is taken by another program; stop it or choose another port "
        "with rootfs_ci.registry.local_port"
    ]
