"""The Docker engine connection, with one clear line when it is not there."""

from __future__ import annotations

import os

import docker
from docker.errors import DockerException

from rootfs_ci.errors import EngineError


def connect() -> docker.DockerClient:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except DockerException as exc:
        raise EngineError(
            f"cannot reach the Docker engine at {host} ({type(exc).__name__}); start it "
            "('sudo dockerd' or 'systemctl start docker') or point DOCKER_HOST at a running one"
        ) from None
    return client
