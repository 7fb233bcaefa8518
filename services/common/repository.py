"""Loading aggregates by folding their events."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from infra.aggregate_cache import Gap
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
    cache = store.aggregates
    try:
        return cache.advance(aggregate_id, await store.load(aggregate_id, after_version=cache.version_of(aggregate_id)))
    except Gap:
        return cache.advance(aggregate_id, await store.load(aggregate_id))


async def load_many(store: EventStore, aggregate_ids: list[UUID]) -> dict[UUID, Any | None]:
    """Several current aggregates at once (one round trip), each from the cache when it can."""
    cache = store.aggregates
    newer = await store.load_many({i: cache.version_of(i) for i in aggregate_ids})
    loaded = {}
    for i in aggregate_ids:
        try:
            loaded[i] = cache.advance(i, newer[i])
        except Gap:
            loaded[i] = await load(store, i)
    return loaded


def _fold(aggregate: Any | None, events: list[Any]) -> Any | None:
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate
