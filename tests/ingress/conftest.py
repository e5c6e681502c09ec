"""Ingress fixtures: the EventRouter in-process on the real Redis, with a recording enqueue in
place of the Celery broker (no ingress process, no sockets, no worker)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ingress import EventRouter
from settings import Settings
from store import Store
from tasks import Job


class RecordingEnqueue:
    """An EventRouter `enqueue` that keeps every job it is handed. It answers as a broker that
    holds the jobs (True), or as one that failed (False) while `failing`."""

    def __init__(self) -> None:
        self.jobs: list[Job] = []
        self.failing = False

    def __call__(self, jobs: list[Job]) -> bool:
        self.jobs.extend(jobs)
        return not self.failing


@pytest.fixture
def enqueued(store: Store) -> Iterator[RecordingEnqueue]:
    """The recording enqueue. Afterwards its events leave the stall sweep's watch: no chain
    ever existed for them, and the run's real scheduler must not start one."""
    recorder = RecordingEnqueue()
    yield recorder
    for job in recorder.jobs:
        store.claims.settled(job.user_id, job.event_id)


@pytest.fixture
def router(settings: Settings, store: Store, enqueued: RecordingEnqueue) -> EventRouter:
    """The ingress's router, handing each round 0 to `enqueued`."""
    return EventRouter(settings, store, enqueue=enqueued)
