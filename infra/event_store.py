"""The event store: one PostgreSQL table in one global order, appended to by group commit.

Concurrent commands are queued and written by a single writer task, many commands to a
transaction and one round trip per batch (the `procession_append` database function).
Each command is checked alone: a version conflict or a repeated idempotency key fails or
answers that command, never its neighbours in the batch. Followers learn of new events
through LISTEN/NOTIFY (and in-process callbacks), and can always poll by position.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
from eventsourcing.persistence import Mapper, StoredEvent

from events.errors import Conflict
from infra import metrics
from infra.aggregate_cache import AggregateCache

log = logging.getLogger(__name__)
CHANNEL = "procession_events"
_APPEND = "SELECT * FROM procession_append($1, $2, $3, $4, $5, $6, $7)"
_COLUMNS = "notification_id, originator_id, originator_version, topic, state, recorded_at, hash"


class VersionConflict(Conflict):
    """Another command changed the aggregate since it was loaded."""


@dataclass(frozen=True)
class RecordedEvent:
    """A stored event as it sits in the global order."""

    position: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes
    recorded_at: datetime
    hash: bytes


@dataclass(frozen=True)
class Appended:
    """What became of one command: its positions, or the first call's result when repeated."""

    first_position: int | None
    last_position: int | None
    duplicate_of: bytes | None = None


@dataclass
class _Pending:
    stored: list[Any]
    key: str | None
    result: bytes | None
    future: asyncio.Future[Appended] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class EventStore:
    """Appends and reads events; one instance per process, started and stopped by its owner."""

    def __init__(
        self, pool: asyncpg.Pool, mapper: Mapper, *, max_batch_events: int = 1000, cache: AggregateCache | None = None
    ) -> None:
        self.pool = pool
        self.mapper = mapper
        self.max_batch_events = max_batch_events
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._listener: asyncpg.Connection | None = None
        self._followers: list[Callable[[int], None]] = []
        self._channels: list[tuple[str, Callable[..., None]]] = []
        self._signal = asyncio.Event()
        self._writer_pids: set[int] = set()  # our backends: their notifications are our own appends
        # Per-aggregate wake-ups for waiters; weak, so that an abandoned wait leaves nothing behind.
        self._watches: weakref.WeakValueDictionary[UUID, asyncio.Event] = weakref.WeakValueDictionary()
        self._announced = 0
        self.aggregates = cache or AggregateCache()

    async def start(self) -> None:
        """Start the writer, and LISTEN for other processes' appends."""
        self._writer = asyncio.create_task(self._write_batches(), name="event-store-writer")
        try:
            self._listener = await self.pool.acquire()
            await self._listener.add_listener(CHANNEL, self._on_notify)
        except (OSError, asyncpg.PostgresError):
            # Followers poll by position anyway; a missing listener only slows them.
            log.warning("LISTEN unavailable; followers will poll", exc_info=True)

    async def stop(self) -> None:
        """Stop the writer once the queued commands are written."""
        if self._writer:
            await self._queue.join()
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.remove_listener(CHANNEL, self._on_notify)
                for channel, deliver in self._channels:
                    await self._listener.remove_listener(channel, deliver)
            self._channels.clear()
            await self.pool.release(self._listener)
            self._listener = None

    async def listen(self, channel: str, callback: Callable[[str], None]) -> None:
        """Call `callback(payload)` for every notification on a channel (on the listener connection)."""
        if self._listener is not None:
            def deliver(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
                callback(payload)

            await self._listener.add_listener(channel, deliver)
            self._channels.append((channel, deliver))

    def follow(self, callback: Callable[[int], None]) -> None:
        """Call `callback(last_position)` whenever events are appended, here or elsewhere."""
        self._followers.append(callback)

    async def append(
        self, events: Sequence[Any], *, idempotency_key: str | None = None, result: bytes | None = None
    ) -> Appended:
        """Append one command's events atomically; VersionConflict if an aggregate moved on."""
        if not events:
            return Appended(None, None)
        pending = _Pending([self.mapper.to_stored_event(e) for e in events], idempotency_key, result)
        await self._queue.put(pending)
        return await asyncio.shield(pending.future)

    async def idempotent_result(self, key: str) -> bytes | None:
        """The stored result of an earlier command with this key, if there was one."""
        return await self.pool.fetchval("SELECT result FROM procession_idempotency WHERE key = $1", key)

    async def load(
        self, originator_id: UUID, *, to_version: int | None = None, until: datetime | None = None,
        after_version: int = 0,
    ) -> list[Any]:
        """One aggregate's domain events in order, optionally cut at a version or a moment."""
        rows = await self.pool.fetch(
            "SELECT originator_id, originator_version, topic, state FROM procession_events"
            " WHERE originator_id = $1 AND originator_version > $4"
            " AND ($2::bigint IS NULL OR originator_version <= $2)"
            " AND ($3::timestamptz IS NULL OR recorded_at <= $3) ORDER BY originator_version",
            originator_id, to_version, until, after_version,
        )
        return [self.decode(*r) for r in rows]

    async def read_after(self, position: int, limit: int = 500) -> list[RecordedEvent]:
        """Events after a position in the global order."""
        rows = await self.pool.fetch(
            f"SELECT {_COLUMNS} FROM procession_events WHERE notification_id > $1"
            " ORDER BY notification_id LIMIT $2",
            position, limit,
        )
        return [RecordedEvent(*r) for r in rows]

    async def load_many(self, after_versions: dict[UUID, int]) -> dict[UUID, list[Any]]:
        """Several aggregates' events after given versions, in one round trip."""
        ids = list(after_versions)
        rows = await self.pool.fetch(
            "SELECT e.originator_id, e.originator_version, e.topic, e.state FROM procession_events e"
            " JOIN unnest($1::uuid[], $2::bigint[]) AS w(id, after_version)"
            " ON e.originator_id = w.id AND e.originator_version > w.after_version"
            " ORDER BY e.originator_id, e.originator_version",
            ids, [after_versions[i] for i in ids],
        )
        events: dict[UUID, list[Any]] = {i: [] for i in ids}
        for row in rows:
            events[row[0]].append(self.decode(*row))
        return events

    async def read_stream(self, originator_id: UUID, after_version: int = 0, limit: int = 500) -> list[RecordedEvent]:
        """One aggregate's events after one of its versions."""
        rows = await self.pool.fetch(
            f"SELECT {_COLUMNS} FROM procession_events WHERE originator_id = $1 AND originator_version > $2"
            " ORDER BY originator_version LIMIT $3",
            originator_id, after_version, limit,
        )
        return [RecordedEvent(*r) for r in rows]

    async def max_position(self) -> int:
        """The position of the newest event (0 when empty)."""
        return await self.pool.fetchval("SELECT coalesce(max(notification_id), 0) FROM procession_events")

    def to_domain_event(self, event: RecordedEvent) -> Any:
        """Decode a recorded event into its domain event class."""
        return self.decode(event.originator_id, event.originator_version, event.topic, event.state)

    async def bulk_import(self, records: AsyncIterator[tuple[Any, ...]], *, batch: int = 2000) -> None:
        """Copy exported events, positions and hashes as they were, in one transaction (into an empty store).

        Each record is (originator_id, originator_version, topic, state, position, recorded_at, hash).
        The position sequence is moved past the last one, so later appends follow on.
        """
        columns = ["originator_id", "originator_version", "topic", "state", "notification_id", "recorded_at", "hash"]
        async with self.pool.acquire() as conn, conn.transaction():
            pending: list[tuple[Any, ...]] = []
            async for record in records:
                pending.append(record)
                if len(pending) >= batch:
                    await conn.copy_records_to_table("procession_events", records=pending, columns=columns)
                    pending = []
            if pending:
                await conn.copy_records_to_table("procession_events", records=pending, columns=columns)
            await conn.execute(
                "SELECT setval(pg_get_serial_sequence('procession_events', 'notification_id'),"
                " greatest((SELECT max(notification_id) FROM procession_events), 1))"
            )

    async def load_topics(self, originator_id: UUID, topics: Sequence[str]) -> list[Any]:
        """One aggregate's domain events of the given topics only, in order (a partial read of a long stream)."""
        rows = await self.pool.fetch(
            "SELECT originator_id, originator_version, topic, state FROM procession_events"
            " WHERE originator_id = $1 AND topic = ANY($2::text[]) ORDER BY originator_version",
            originator_id, list(topics),
        )
        return [self.decode(*r) for r in rows]

    def decode(self, originator_id: UUID, version: int, topic: str, state: bytes) -> Any:
        """Decode a stored event's columns into its domain event."""
        return self.mapper.to_domain_event(StoredEvent(originator_id, version, topic, bytes(state)))

    def _on_notify(self, _conn: Any, pid: int, _channel: str, payload: str) -> None:
        position = int(payload)
        # Our own appends were announced already when they committed; only news counts.
        if position > self._announced:
            if pid not in self._writer_pids:  # another process's append: its aggregates are unknown
                for watch in list(self._watches.values()):
                    watch.set()
                self._watches.clear()
            self._announce(position)

    def watch(self, aggregate_id: UUID) -> asyncio.Event:
        """An event set at the next append to this aggregate. Take it *before* reading, then wait on it.

        Appends made here name their aggregates; an append announced by another process does
        not, so it sets every watch (a spurious wake-up costs a re-read, a missed one a wait).
        """
        watch = self._watches.get(aggregate_id)
        if watch is None or watch.is_set():
            watch = self._watches[aggregate_id] = asyncio.Event()
        return watch

    def append_signal(self) -> asyncio.Event:
        """An event set at the next append. Take it *before* reading, then wait on it."""
        return self._signal

    def _announce(self, position: int) -> None:
        self._announced = max(self._announced, position)
        signal, self._signal = self._signal, asyncio.Event()
        signal.set()
        for callback in self._followers:
            callback(position)

    async def _write_batches(self) -> None:
        while True:
            batch = [await self._queue.get()]
            size = len(batch[0].stored)
            while size < self.max_batch_events and not self._queue.empty():
                batch.append(self._queue.get_nowait())
                size += len(batch[-1].stored)
            try:
                await self._write(batch)
            except Exception as error:  # noqa: BLE001 - every waiter must hear of it
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(error)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[_Pending]) -> None:
        command, ids, versions, topics, states = [], [], [], [], []
        for number, pending in enumerate(batch, start=1):
            for stored in pending.stored:
                command.append(number)
                ids.append(stored.originator_id)
                versions.append(stored.originator_version)
                topics.append(stored.topic)
                states.append(stored.state)
        keys = [p.key for p in batch]
        results = [p.result for p in batch]
        started = time.perf_counter()
        async with self.pool.acquire() as conn:
            self._writer_pids.add(conn.get_server_pid())
            rows = await conn.fetch(_APPEND, command, ids, versions, topics, states, keys, results)
        metrics.observe_append(len(ids), time.perf_counter() - started)
        last = None
        for row in rows:
            pending = batch[row["command"] - 1]
            if pending.future.done():
                continue
            if row["outcome"] == "conflict":
                pending.future.set_exception(
                    VersionConflict("the resource was changed by another request; reload it and retry")
                )
            elif row["outcome"] == "duplicate":
                pending.future.set_result(Appended(None, None, duplicate_of=row["result"] or b""))
            else:
                pending.future.set_result(Appended(row["first_position"], row["last_position"]))
                last = row["last_position"] or last
        if last is not None:
            for aggregate_id in set(ids):
                if (watch := self._watches.pop(aggregate_id, None)) is not None:
                    watch.set()
            self._announce(last)
