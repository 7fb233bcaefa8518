"""The audit surface: the log as lines, export and import, and the hash-chain check."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson

from contracts.audit import StoredEventLine
from infra.event_store import EventStore, RecordedEvent
from infra.hash_chain import GENESIS, chain_hash
from services.publishing.cloudevents import event_id, event_type

_BATCH = 2000


def to_line(event: RecordedEvent) -> dict[str, Any]:
    """A stored event as an audit line (the shape of `StoredEventLine`)."""
    return {
        "position": event.position,
        "id": event_id(event.originator_id, event.originator_version),
        "originator_id": str(event.originator_id),
        "originator_version": event.originator_version,
        "topic": event.topic,
        "type": event_type(event.topic),
        "state": bytes(event.state).decode(),
        "recorded_at": event.recorded_at.isoformat(),
        "hash": bytes(event.hash).hex(),
    }


async def walk(store: EventStore, after: int = 0) -> AsyncIterator[list[RecordedEvent]]:
    """The whole log after a position, in batches."""
    while batch := await store.read_after(after, _BATCH):
        yield batch
        after = batch[-1].position


@dataclass(frozen=True)
class Verdict:
    """What `verify` found: how many events were checked and the first broken one, if any."""

    checked: int
    broken_at: RecordedEvent | None = None

    @property
    def intact(self) -> bool:
        return self.broken_at is None


async def verify(store: EventStore, progress: Callable[[int], None] | None = None) -> Verdict:
    """Walk the hash chain from the first event; stop at the first event that does not match."""
    previous, checked = GENESIS, 0
    async for batch in walk(store):
        for event in batch:
            expected = chain_hash(previous, event.position, event.originator_id, event.originator_version,
                                  event.topic, bytes(event.state))
            if expected != bytes(event.hash):
                return Verdict(checked, event)
            previous, checked = expected, checked + 1
        if progress:
            progress(len(batch))
    return Verdict(checked)


class ImportRefused(Exception):
    """An import that would not reproduce the exported log faithfully."""


async def import_lines(store: EventStore, lines: AsyncIterator[bytes]) -> int:
    """Load an export into an empty store, checking every hash; returns the event count."""
    if await store.max_position() != 0:
        raise ImportRefused("the event store is not empty; import only into a new database")
    previous, records, count = GENESIS, [], 0
    async with store.pool.acquire() as conn, conn.transaction():
        async for raw in lines:
            if not raw.strip():
                continue
            try:
                line = StoredEventLine.model_validate(orjson.loads(raw))
            except ValueError as error:
                raise ImportRefused(f"line {count + 1} is not an event line: {error}") from None
            state = line.state.encode()
            digest = chain_hash(previous, line.position, line.originator_id, line.originator_version, line.topic, state)
            if digest.hex() != line.hash:
                raise ImportRefused(f"event at position {line.position} does not match its hash; the export was altered")
            records.append((line.originator_id, line.originator_version, line.topic, state,
                            line.position, line.recorded_at, digest))
            previous, count = digest, count + 1
            if len(records) >= _BATCH:
                await _copy(conn, records)
        await _copy(conn, records)
        await conn.execute(
            "SELECT setval(pg_get_serial_sequence('procession_events', 'notification_id'),"
            " greatest((SELECT max(notification_id) FROM procession_events), 1))"
        )
    return count


async def _copy(conn: Any, records: list[tuple[Any, ...]]) -> None:
    if records:
        await conn.copy_records_to_table(
            "procession_events", records=records,
            columns=["originator_id", "originator_version", "topic", "state", "notification_id", "recorded_at", "hash"],
        )
        records.clear()


def aggregate_id(raw: str) -> UUID:
    """An aggregate id from a path segment (ValueError if it is not a UUID)."""
    return UUID(raw)
