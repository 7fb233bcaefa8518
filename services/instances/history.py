"""An instance's history as people and auditors read it: every event, who, when, what changed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from infra.event_store import EventStore

_HIDDEN = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})


@dataclass(frozen=True)
class HistoryEntry:
    """One event of an instance: its version, type, time, author (if it names one) and data."""

    version: int
    type: str
    timestamp: datetime
    user: str | None
    data: dict[str, Any]


class InstanceHistory:
    """Reads an instance's own event stream (the same events the audit feed and export carry)."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    async def after(self, instance_id: UUID, version: int = 0, limit: int = 10_000) -> list[HistoryEntry]:
        """The events after an aggregate version, oldest first."""
        entries = []
        for recorded in await self.store.read_stream(instance_id, version, limit):
            event = self.store.to_domain_event(recorded)
            data = {k: v for k, v in vars(event).items() if k not in _HIDDEN}
            entries.append(HistoryEntry(event.originator_version, type(event).__qualname__.split(".")[-1],
                                        event.timestamp, data.get("user"), data))
        return entries

    def signal(self) -> asyncio.Event:
        """Set at the next append by this process (take it before reading, then wait on it)."""
        return self.store.append_signal()
