"""Containers a smoke run creates: labelled, tracked, and always removed."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import docker
from docker.errors import DockerException, NotFound
from docker.models.containers import Container

from ci import labels
from ci.errors import EngineError
from ci.signals import signals_deferred


class RunContainers:
    """Creates containers labelled with this run's id; ``cleanup`` removes all of them."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self.run_id = uuid.uuid4().hex[:12]

    def create(self, image: str, **options: Any) -> Container:
        options.setdefault("labels", {}).update(labels.run_labels(self.run_id))
        try:
            return self.client.containers.create(image, **options)
        except DockerException as exc:
            raise EngineError(f"cannot create a container from {image}: {exc}") from None

    def _mine(self) -> list[Container]:
        return list(self.client.containers.list(all=True, filters={"label": f"{labels.RUN}={self.run_id}"}))

    def cleanup(self) -> int:
        """Remove every container of this run, whatever state it is in; return how many."""
        removed = 0
        with signals_deferred():
            for container in self._mine():
                with contextlib.suppress(NotFound):
                    container.remove(force=True)
                    removed += 1
        return removed


@contextlib.contextmanager
def run_containers(client: docker.DockerClient) -> Iterator[RunContainers]:
    containers = RunContainers(client)
    try:
        yield containers
    finally:
        containers.cleanup()


def clean_leftovers(client: docker.DockerClient) -> list[str]:
    """Remove containers of rootfs-ci runs whose process is gone; return their names."""
    removed = []
    for container in client.containers.list(all=True, filters={"label": labels.RUN}):
        if labels.owner_alive(container.labels):
            continue
        with contextlib.suppress(NotFound):
            container.remove(force=True)
            removed.append(container.name)
    return removed
