"""Shared fixtures: a throwaway copy of this project, and the real Docker engine."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.helpers import Project, make_project

# The registry fixtures (real docker-registry processes on loopback) for every test module.
pytest_plugins = ["tests.conftest_registry"]


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One .deb cache for the session, so most tests download nothing."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def project(tmp_path: Path, shared_cache: Path) -> Project:
    return make_project(tmp_path / "project", shared_cache)


@pytest.fixture(scope="session")
def engine() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    client.ping()  # the integration tests need the real engine; .ci/run starts it
    yield client
    client.close()


@pytest.fixture
def unique_tag() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


def pytest_configure(config: pytest.Config) -> None:
    """Start tools as a terminal would: a shell's background job (some CI runners) inherits SIGINT
    ignored, and the interrupt tests' children would inherit that. A handled signal resets on exec."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
