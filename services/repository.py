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
    """The aggregate as of its last event (or a version, or a moment); None if it has none."""
    aggregate = None
    for event in await store.load(aggregate_id, to_version=to_version, until=until):
        aggregate = event.mutate(aggregate)
    return aggregate
