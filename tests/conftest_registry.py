"""Registry fixtures, loaded for every test module by tests/conftest.py.

Real docker-registry processes on free loopback ports with temp storage: plain, TLS + htpasswd
(Basic), and token auth against the loopback token server; a fault proxy in front of the plain one.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator

import pytest

from rootfs_ci.registry.local import LocalRegistry
from tests.faultproxy import FaultProxy
from tests.registry_fixtures import (
    AuthRegistry,
    SecuredRegistry,
    TokenServer,
    free_port,
    make_cert,
    running,
    write_htpasswd,
)


@pytest.fixture(scope="session")
def registry_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    root = tmp_path_factory.mktemp("registry")
    with running(LocalRegistry(free_port(), root / "storage", root / "state")) as registry:
        yield registry


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    """TLS with a throwaway certificate for 127.0.0.1, and htpasswd (bcrypt) Basic auth."""
    root = tmp_path_factory.mktemp("basic-registry")
    cert, key = make_cert(root / "tls", "registry")
    user, password = "ci-user", "pw-" + secrets.token_urlsafe(18)
    htpasswd = write_htpasswd(root / "htpasswd", {user: password})
    registry = SecuredRegistry(
        free_port(),
        root / "storage",
        root / "state",
        tls_cert=cert,
        tls_key=key,
        auth={"htpasswd": {"realm": "rootfs-ci-test", "path": str(htpasswd)}},
    )
    with running(registry):
        yield AuthRegistry(registry, user, password, f"https://{registry.address}", ca_file=cert)


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    """Token auth: the registry sends Bearer challenges naming the loopback token server as realm."""
    root = tmp_path_factory.mktemp("token-registry")
    cert, key = make_cert(root / "signing", "token")
    user, password = "ci-pusher", "tk-" + secrets.token_urlsafe(18)
    server = TokenServer(cert, key, {user: password})
    registry = SecuredRegistry(
        free_port(),
        root / "storage",
        root / "state",
        auth={
            "token": {
                "realm": server.realm,
                "service": server.service,
                "issuer": server.issuer,
                "rootcertbundle": str(cert),
            }
        },
    )
    try:
        with running(registry):
            yield AuthRegistry(registry, user, password, registry.address, token_server=server)
    finally:
        server.close()


@pytest.fixture
def fault_proxy(registry_server: LocalRegistry) -> Iterator[FaultProxy]:
    with FaultProxy(registry_server.port) as proxy:
        yield proxy


@pytest.fixture
def repo_name() -> str:
    return f"test/r{uuid.uuid4().hex[:10]}"
