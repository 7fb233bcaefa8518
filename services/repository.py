"""Loading aggregates by folding their events."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from infra.event_store import EventStore

A = TypeVar("A")


async def load(
    store: EventStore, aggregate_id: UUID, *, to_version: int | None = None, until: datetime | None = None
) -> Any | None:
    """The aggregate as of its last event (or a version, or a moment); None if it has none.

    The current state starts from the store's cache and reads only the events after it.
    """
    if to_version is not None or until is not None:
        return _fold(None, await store.load(aggregate_id, to_version=to_version, until=until))
    cached = store.aggregates.get(aggregate_id)
    newer = await store.load(aggregate_id, after_version=cached.version if cached is not None else 0)
    aggregate = _fold(cached, newer)
    if aggregate is not None and newer:
        store.aggregates.put(aggregate)
    return aggregate


async def load_many(store: EventStore, aggregate_ids: list[UUID]) -> dict[UUID, Any | None]:
    """Several current aggregates at once (one round trip), each from the cache when it can."""
    cached = {i: store.aggregates.get(i) for i in aggregate_ids}
    newer = await store.load_many({i: (a.version if a is not None else 0) for i, a in cached.items()})
    loaded = {}
    for i in aggregate_ids:
        loaded[i] = _fold(cached[i], newer[i])
        if loaded[i] is not None and newer[i]:
            store.aggregates.put(loaded[i])
    return loaded


def _fold(aggregate: Any | None, events: list[Any]) -> Any | None:
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate
