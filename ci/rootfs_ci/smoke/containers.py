"""Containers a smoke run creates: labelled, tracked, and always removed."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import docker
from docker.errors import APIError, DockerException, NotFound
from docker.models.containers import Container

from rootfs_ci import labels
from rootfs_ci.errors import EngineError
from rootfs_ci.signals import signals_deferred
from rootfs_ci.workers import thread_pool

UNCERTAIN_WAIT = 3.0  # seconds the engine gets to finish a create request we stopped waiting for
REMOVERS = 4  # containers removed at once at cleanup


class RunContainers:
    """Creates containers labelled with this run's id; ``cleanup`` removes all of them.

    Checks create containers from worker threads: once cleanup has begun, ``create`` refuses, so a
    check still running cannot leave a container behind."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self.run_id = uuid.uuid4().hex[:12]
        self.created = 0
        # Names whose create request was cut off by a signal: the engine may still be making them.
        self.uncertain: set[str] = set()
        self.closed = False
        self._lock = threading.Lock()

    def create(self, image: str, **options: Any) -> Container:
        options.setdefault("labels", {}).update(labels.run_labels(self.run_id))
        with self._lock:
            if self.closed:
                raise EngineError(f"the smoke run is cleaning up; no new container from {image}")
            name = options.setdefault("name", f"rootfs-ci-{self.run_id}-{self.created}")
            self.created += 1
            self.uncertain.add(name)
        try:
            container = self.client.containers.create(image, **options)
        except DockerException as exc:
            self._settled(name)
            raise EngineError(f"cannot create a container from {image}: {exc}") from None
        self._settled(name)
        return container

    def _settled(self, name: str) -> None:
        with self._lock:
            self.uncertain.discard(name)

    def cleanup(self) -> int:
        """Remove every container of this run, whatever state it is in; return how many."""
        with signals_deferred():
            with self._lock:
                self.closed = True  # from now on no check can add a container
                pending = set(self.uncertain)
            listed = _listed(self.client, f"{labels.RUN}={self.run_id}")
            for entry in listed:
                pending.difference_update(_names(entry))
            # Removing a running container takes the engine a while: all at once, not one by one.
            with ThreadPoolExecutor(max_workers=REMOVERS) as pool:
                removed = sum(pool.map(self._remove, [entry["Id"] for entry in listed]))
            deadline = time.monotonic() + UNCERTAIN_WAIT
            for name in sorted(pending):
                removed += self._remove_when_made(name, deadline)
            with self._lock:
                self.uncertain.clear()
        return removed

    def _remove_when_made(self, name: str, deadline: float) -> int:
        """Remove ``name`` once the engine has made it (a create we stopped waiting for), or give up."""
        while True:
            if self._remove(name):
                return 1
            if time.monotonic() > deadline:
                return 0
            time.sleep(0.05)

    def _remove(self, ref: str) -> int:
        """1 once ``ref`` is gone (removed here, or by whoever was already removing it), 0 if there
        was none. 409: the engine is already removing it (a check removing its own container): wait."""
        deadline = time.monotonic() + UNCERTAIN_WAIT
        conflicted = False
        while True:
            try:
                self.client.api.remove_container(ref, force=True)
                return 1
            except NotFound:
                return 1 if conflicted else 0
            except APIError as exc:
                if exc.status_code != 409 or time.monotonic() > deadline:
                    raise EngineError(f"cannot remove container {ref[:40]}: {exc}") from None
                conflicted = True
                time.sleep(0.05)


@contextlib.contextmanager
def run_containers_with_workers(
    client: docker.DockerClient, workers: int, name: str
) -> Iterator[tuple[RunContainers, ThreadPoolExecutor]]:
    """Containers for checks running on ``workers`` threads. At the end the containers go first, so
    checks still running end quickly (on SIGINT); once every thread has ended, a second sweep removes
    what a create request still in flight at the first one made (the engine can take seconds)."""
    containers = RunContainers(client)
    try:
        with thread_pool(workers, name) as pool:
            try:
                yield containers, pool
            finally:
                containers.cleanup()
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
