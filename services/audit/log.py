"""The audit surface: the log as lines, export and import, and the hash-chain check."""

from __future__ import annotations

import asyncio
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
    count = 0

    async def records() -> AsyncIterator[tuple[Any, ...]]:
        nonlocal count
        previous = GENESIS
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
            yield line.originator_id, line.originator_version, line.topic, state, line.position, line.recorded_at, digest
            previous, count = digest, count + 1

    await store.bulk_import(records(), batch=_BATCH)
    return count


class AuditLog:
    """The stored log as auditors read it: lines after a position, one aggregate's lines, live signals."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    async def lines_after(self, after: int, limit: int = 500) -> list[dict[str, Any]]:
        """Audit lines of the global log after a position."""
        return [to_line(e) for e in await self.store.read_after(after, limit)]

    async def aggregate_lines(self, aggregate: UUID, after: int, limit: int = 500) -> list[dict[str, Any]]:
        """Audit lines of one aggregate after a version."""
        return [to_line(e) for e in await self.store.read_stream(aggregate, after, limit)]

    def append_signal(self) -> asyncio.Event:
        """An event set at the next append (take it before reading, then wait on it)."""
        return self.store.append_signal()

    async def last_position(self) -> int:
        """The position of the newest event (0 for an empty log)."""
        return await self.store.max_position()

    async def verify(self, progress: Callable[[int], None] | None = None) -> Verdict:
        """Walk the hash chain (see `verify`), reporting each checked batch's size to `progress`."""
        return await verify(self.store, progress)

    async def export(self, after: int = 0) -> AsyncIterator[bytes]:
        """The log after a position as NDJSON chunks: the lines of `procession events export`."""
        async for batch in walk(self.store, after):
            yield b"".join(orjson.dumps(to_line(e)) + b"\n" for e in batch)


def aggregate_id(raw: str) -> UUID:
    """An aggregate id from a path segment (ValueError if it is not a UUID)."""
    return UUID(raw)
