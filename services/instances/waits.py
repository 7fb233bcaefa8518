"""Waiting, without polling the database in a loop, until an instance reaches a condition.

Each round takes the store's watch on the instance *before* reading it, so an event
appended between the read and the wait still wakes it; appends to other instances do not. A wake-up at least every second
also covers events appended by another service process (whose signal this one never sees).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from uuid import UUID

from events.instance import ProcessInstance
from events.instance_state import InstanceStatus
from infra.aio import wait_event
from infra.event_store import EventStore

_RECHECK_SECONDS = 1.0


async def wait_for(
    store: EventStore, get: Callable[[str], Awaitable[ProcessInstance]], instance_id: str,
    done: Callable[[ProcessInstance], bool], timeout: float,
) -> tuple[ProcessInstance, bool]:
    """The instance once `done` holds (True), or as it is when `timeout` seconds passed (False)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(timeout, 0.0)
    try:
        aggregate_id: UUID | None = UUID(instance_id)
    except ValueError:
        aggregate_id = None  # `get` answers that one
    while True:
        # Woken by appends to this instance only (or any other process's append), not by every one.
        signal = store.watch(aggregate_id) if aggregate_id is not None else store.append_signal()
        instance = await get(instance_id)
        if done(instance):
            return instance, True
        remaining = deadline - loop.time()
        if remaining <= 0:
            return instance, False
        await wait_event(signal, min(remaining, _RECHECK_SECONDS))


def finished(instance: ProcessInstance) -> bool:
    """Nothing more will happen (Concord's terminal statuses)."""
    return instance.status.finished


def settled(instance: ProcessInstance) -> bool:
    """Finished, or waiting on a person (what `sync=true` waits for)."""
    return instance.status.finished or instance.status is InstanceStatus.WAITING
