"""The one projection runner: catches each projection up from its position, then follows.

Each step reads a batch of events after the projection's position and, in the same
transaction, writes the view rows and the new position. The tracking row is locked for
the step, so several service processes can run the same projections without applying an
event twice. Commands can wait until the projections have seen their own events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any, Protocol

import asyncpg

from infra import tracking
from infra.aio import wait_event
from infra.event_store import EventStore
from infra.postgres import run_schema

log = logging.getLogger(__name__)


class Projection(Protocol):
    """What the runner needs of a read model (`projections/base.py` defines the real ones).

    `handlers` map an event class to `handler(conn, event, position)`; `batch_handlers` to
    `handler(conn, [(event, position), ...])` for a run of that class; `topics` are the event
    topics it reads, and `tables` what a rebuild truncates.
    """

    @property
    def name(self) -> str: ...
    @property
    def schema(self) -> str: ...
    @property
    def tables(self) -> tuple[str, ...]: ...
    @property
    def handlers(self) -> Mapping[type, Callable[[Any, Any, int], Awaitable[None]]]: ...
    @property
    def batch_handlers(self) -> Mapping[type, Callable[[Any, list[tuple[Any, int]]], Awaitable[None]]]: ...
    @property
    def topics(self) -> frozenset[str]: ...
POLL_SECONDS = 1.0


class ProjectionRunner:
    """Runs projections as background tasks, or step by step for rebuilds."""

    def __init__(
        self, store: EventStore, projections: Sequence[Projection], *, batch: int = 500
    ) -> None:
        self.store = store
        self.pool: asyncpg.Pool = store.pool
        self.projections = {p.name: p for p in projections}
        self.batch = batch
        self.positions: dict[str, int] = {}
        self._wake = {name: asyncio.Event() for name in self.projections}
        self._progress = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []

    async def prepare(self) -> None:
        """Create every projection's tables (idempotent)."""
        for projection in self.projections.values():
            await run_schema(self.pool, projection.schema)

    async def start(self, *, prepare: bool = True) -> None:
        """Prepare (unless the tables are known to be there), then follow the log in the background."""
        if prepare:
            await self.prepare()
        self.store.follow(self._on_append)
        for projection in self.projections.values():
            self._tasks.append(asyncio.create_task(self._follow(projection), name=f"projection-{projection.name}"))

    async def stop(self) -> None:
        """Cancel the followers."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def wait_for(self, position: int | None, timeout: float, topics: Collection[str] | None = None) -> bool:
        """Wait until the projections have passed `position`; False on timeout.

        With `topics` (of the events just appended), only the projections that read one of
        them are waited for: the others' rows cannot change because of those events.
        """
        if position is None:
            return True
        names = [n for n, p in self.projections.items() if topics is None or not p.topics.isdisjoint(topics)]

        def caught_up() -> bool:
            return all(self.positions.get(name, 0) >= position for name in names)

        async with self._progress:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._progress.wait_for(caught_up)
            return caught_up()

    async def step(self, projection: Projection) -> int:
        """Apply the next batch of events; returns how many events were read."""
        skipped = await self._skip_irrelevant(projection)
        if skipped is not None:
            return skipped
        async with self.pool.acquire() as conn, conn.transaction():
            position = await tracking.lock(conn, projection.name)
            rows = await conn.fetch(
                "SELECT notification_id, originator_id, originator_version, topic, state"
                " FROM procession_events WHERE notification_id > $1 ORDER BY notification_id LIMIT $2",
                position, self.batch,
            )
            await self._apply(conn, projection, rows)
            if rows:
                position = rows[-1]["notification_id"]
                await tracking.record(conn, projection.name, position)
        await self._advanced(projection.name, position)
        return len(rows)

    async def _apply(self, conn: asyncpg.Connection, projection: Projection, rows: list) -> None:
        """Hand each relevant event to its handler; runs of one type to its batch handler, if any."""
        run: list[tuple[object, int]] = []
        for row in rows:
            if row["topic"] not in projection.topics:
                continue
            event = self.store.decode(row[1], row[2], row[3], row[4])
            if run and type(run[0][0]) is not type(event):
                await self._flush(conn, projection, run)
            run.append((event, row["notification_id"]))
        await self._flush(conn, projection, run)

    @staticmethod
    async def _flush(conn: asyncpg.Connection, projection: Projection, run: list[tuple[object, int]]) -> None:
        if not run:
            return
        kind = type(run[0][0])
        if (batch := projection.batch_handlers.get(kind)) is not None:
            await batch(conn, list(run))
        elif (handler := projection.handlers.get(kind)) is not None:
            for event, position in run:
                await handler(conn, event, position)
        run.clear()

    async def _skip_irrelevant(self, projection: Projection) -> int | None:
        """Move past a batch that holds none of the projection's events without a transaction.

        Most appends concern one read model; the others only need their position moved on.
        The move is a compare-and-set on the position this runner last saw, so if another
        process moved it meanwhile nothing happens and the full step runs instead.
        """
        known = self.positions.get(projection.name)
        if known is None:
            return None
        rows = await self.pool.fetch(
            "SELECT notification_id, topic FROM procession_events WHERE notification_id > $1"
            " ORDER BY notification_id LIMIT $2",
            known, self.batch,
        )
        if not rows:
            return 0
        if any(row["topic"] in projection.topics for row in rows):
            return None
        moved = await tracking.move(self.pool, projection.name, known, rows[-1]["notification_id"])
        if moved is None:
            return None
        await self._advanced(projection.name, moved)
        return len(rows)

    async def reset(self, projection: Projection) -> None:
        """Empty a projection's tables and move it back to position 0, atomically."""
        async with self.pool.acquire() as conn, conn.transaction():
            await tracking.lock(conn, projection.name)
            await conn.execute(f"TRUNCATE {', '.join(projection.tables)}")
            await tracking.record(conn, projection.name, 0)
        self.positions[projection.name] = 0

    async def rebuild(self, projection: Projection, progress: Callable[[int], None] | None = None) -> None:
        """Rebuild one projection from zero, reporting each batch to `progress`."""
        await self.reset(projection)
        while (count := await self.step(projection)) > 0:
            if progress:
                progress(count)

    async def _advanced(self, name: str, position: int) -> None:
        if self.positions.get(name) == position:
            return  # nothing new for waiters
        self.positions[name] = position
        async with self._progress:
            self._progress.notify_all()

    def _on_append(self, _position: int) -> None:
        for wake in self._wake.values():
            wake.set()

    async def _follow(self, projection: Projection) -> None:
        wake = self._wake[projection.name]
        failures = 0
        while True:
            wake.clear()
            try:
                count = await self.step(projection)
                failures = 0
            except Exception:  # noqa: BLE001 - a follower must outlive one bad step
                failures += 1
                log.exception("projection %s failed; retrying", projection.name)
                await asyncio.sleep(min(30.0, 0.5 * 2**failures))
                continue
            if count < self.batch:
                await wait_event(wake, POLL_SECONDS)
