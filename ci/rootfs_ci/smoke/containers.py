"""Containers a smoke run creates: labelled, tracked, and always removed."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import docker
from docker.errors import DockerException, NotFound
from docker.models.containers import Container

from rootfs_ci import labels
from rootfs_ci.errors import EngineError
from rootfs_ci.signals import signals_deferred

UNCERTAIN_WAIT = 3.0  # seconds the engine gets to finish a create request we stopped waiting for


class RunContainers:
    """Creates containers labelled with this run's id; ``cleanup`` removes all of them."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self.run_id = uuid.uuid4().hex[:12]
        self.created = 0
        # Names whose create request was cut off by a signal: the engine may still be making them.
        self.uncertain: set[str] = set()

    def create(self, image: str, **options: Any) -> Container:
        options.setdefault("labels", {}).update(labels.run_labels(self.run_id))
        name = options.setdefault("name", f"rootfs-ci-{self.run_id}-{self.created}")
        self.created += 1
        self.uncertain.add(name)
        try:
            container = self.client.containers.create(image, **options)
        except DockerException as exc:
            self.uncertain.discard(name)
            raise EngineError(f"cannot create a container from {image}: {exc}") from None
        self.uncertain.discard(name)
        return container

    def cleanup(self) -> int:
        """Remove every container of this run, whatever state it is in; return how many."""
        removed = 0
        with signals_deferred():
            for listed in _listed(self.client, f"{labels.RUN}={self.run_id}"):
                with contextlib.suppress(NotFound):
                    self.client.api.remove_container(listed["Id"], force=True)
                    removed += 1
                self.uncertain.difference_update(_names(listed))
            deadline = time.monotonic() + UNCERTAIN_WAIT
            for name in sorted(self.uncertain):
                while True:
                    try:
                        self.client.containers.get(name).remove(force=True)
                        removed += 1
                        break
                    except NotFound:
                        if time.monotonic() > deadline:
                            break
                        time.sleep(0.05)
            self.uncertain.clear()
        return removed


@contextlib.contextmanager
def run_containers(client: docker.DockerClient) -> Iterator[RunContainers]:
    containers = RunContainers(client)
    try:
        yield containers
    finally:
        containers.cleanup()


def _listed(client: docker.DockerClient, label: str) -> list[dict[str, Any]]:
    """Containers with ``label`` as the engine lists them: no inspect per container, so one that goes
    away between the listing and its removal is no error (the SDK's list() would raise NotFound)."""
    return list(client.api.containers(all=True, filters={"label": label}))


def _names(listed: dict[str, Any]) -> set[str]:
    return {name.lstrip("/") for name in listed.get("Names") or []}


def clean_leftovers(client: docker.DockerClient) -> list[str]:
    """Remove containers of rootfs-ci runs whose process is gone; return their names."""
    removed = []
    for listed in _listed(client, labels.RUN):
        if labels.owner_alive(listed.get("Labels") or {}):
            continue
        with contextlib.suppress(NotFound):
            client.api.remove_container(listed["Id"], force=True)
            removed.extend(sorted(_names(listed)))
    return removed
