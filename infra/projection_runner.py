"""The one projection runner: catches every projection up from its position, then follows.

Each step reads a batch of events once for all projections and, in one transaction, writes
their view rows and new positions. The tracking rows are locked for the step, so several
service processes can run the same projections without applying an event twice; with a
lease, only one of them follows and the others learn its progress from notifications.
Commands can wait until the projections have seen their own events.
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
from infra.leases import Lease
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
    @property
    def rows(self) -> RowFolds | None: ...


class RowFolds(Protocol):
    """A read model of one row per aggregate, folded and written a batch at a time."""

    async def apply(self, conn: Any, events: list[tuple[Any, int]]) -> None: ...


POLL_SECONDS = 1.0
_READ = (
    "SELECT notification_id, originator_id, originator_version, topic, state"
    " FROM procession_events WHERE notification_id > $1 ORDER BY notification_id LIMIT $2"
)
# Positions written by step_all are announced to every process at commit (`name=position,...`).
PROGRESS_CHANNEL = "procession_projections"


class ProjectionRunner:
    """Runs projections as background tasks, or step by step for rebuilds."""

    def __init__(
        self, store: EventStore, projections: Sequence[Projection], *, batch: int = 500, lease: Lease | None = None,
        rescue_seconds: float = 1.0,
    ) -> None:
        self.store = store
        # With a lease, only its holder follows the log; the other processes learn its progress
        # from notifications, and step themselves only for a waiter the holder keeps waiting
        # (`rescue_seconds`), e.g. while a dead holder's lease runs out.
        self.lease = lease
        self.rescue_seconds = rescue_seconds
        self._rescue = asyncio.Lock()
        self._following = False  # started and not stopped: only then does a waiter step the projections
        self.pool: asyncpg.Pool = store.pool
        self.projections = {p.name: p for p in projections}
        self.batch = batch
        self.positions: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._decoded: dict[int, object] = {}
        self.failed = False
        self._progress = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []
        self._notified: set[asyncio.Task[None]] = set()

    async def prepare(self) -> None:
        """Create every projection's tables (idempotent)."""
        for projection in self.projections.values():
            await run_schema(self.pool, projection.schema)

    async def start(self, *, prepare: bool = True) -> None:
        """Prepare (unless the tables are known to be there), then follow the log in the background
        (one reader for every projection)."""
        if prepare:
            await self.prepare()
        self.store.follow(self._on_append)
        await self.store.listen(PROGRESS_CHANNEL, self._on_progress)
        self._tasks.append(asyncio.create_task(self._follow_all(), name="projections"))
        self._following = True

    async def stop(self) -> None:
        """Cancel the followers (and give the lease up, for another process to take at once)."""
        self._following = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self.lease is not None:
            with contextlib.suppress(Exception):
                await self.lease.release()

    def _on_progress(self, payload: str) -> None:
        """Positions another process (or this one) committed: `name=position,...`."""
        moved = {}
        for pair in filter(None, payload.split(",")):
            name, _, position = pair.partition("=")
            if name in self.projections:
                moved[name] = int(position)
        if moved:
            task = asyncio.ensure_future(self._advanced_many(moved))
            self._notified.add(task)
            task.add_done_callback(self._notified.discard)

    async def _advanced_many(self, moved: dict[str, int]) -> None:
        changed = False
        for name, position in moved.items():
            if position > self.positions.get(name, 0):
                self.positions[name] = position
                changed = True
        if changed:
            async with self._progress:
                self._progress.notify_all()

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

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            async with self._progress:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(deadline - loop.time(), self.rescue_seconds)):
                        await self._progress.wait_for(caught_up)
                if caught_up():
                    return True
            if loop.time() >= deadline:
                return False
            # Nobody has applied these events yet (no lease holder, or a slow one): do it here,
            # unless this runner was stopped (then nothing here applies events).
            if self._following and not self._rescue.locked():
                async with self._rescue:
                    with contextlib.suppress(Exception):
                        await self.step_all()

    async def step(self, projection: Projection) -> int:
        """Apply the next batch of events; returns how many events were read."""
        skipped = await self._skip_irrelevant(projection)
        if skipped is not None:
            return skipped
        async with self.pool.acquire() as conn, conn.transaction():
            position = await tracking.lock(conn, projection.name)
            rows = await conn.fetch(_READ, position, self.batch)
            self._decoded.clear()
            await self._apply(conn, projection, rows)
            if rows:
                position = rows[-1]["notification_id"]
                await tracking.record(conn, projection.name, position)
        await self._advanced(projection.name, position)
        return len(rows)

    async def step_all(self, batch: int | None = None) -> int:
        """Move every projection on by one shared read of the log; how many events were read.

        One transaction for all of them: their positions are locked (in name order, so two
        processes never deadlock), the events after the slowest one are read once, each
        projection applies the part it has not seen, and all positions are written in one
        statement. Other processes never apply an event twice. If anything fails, each
        projection is stepped alone, so one faulty read model does not hold the others back.
        """
        batch = batch or self.batch
        names = sorted(self.projections)
        moved: dict[str, int] = {}
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                locked = await tracking.lock_all(conn, names)
                rows = await conn.fetch(_READ, min(locked.values()), batch)
                self._decoded.clear()
                for name in names:
                    projection = self.projections[name]
                    mine = [r for r in rows if r["notification_id"] > locked[name]]
                    if not mine:
                        continue
                    if any(r["topic"] in projection.topics for r in mine):
                        await self._apply(conn, projection, mine)
                    moved[name] = mine[-1]["notification_id"]
                if moved:
                    await tracking.record_all(conn, moved, announce=PROGRESS_CHANNEL)
        except Exception:  # noqa: BLE001 - isolate the faulty projection, keep the others going
            log.exception("projections failed in one transaction; stepping each alone")
            return await self._step_each()
        finally:
            self._decoded.clear()
        for name in names:
            await self._advanced(name, moved.get(name, locked[name]))
        return len(rows)

    async def _step_each(self) -> int:
        count = 0
        for projection in self.projections.values():
            try:
                count = max(count, await self.step(projection))
            except Exception:  # noqa: BLE001 - logged; the follower retries with backoff
                log.exception("projection %s failed; retrying", projection.name)
                self.failed = True
        return count

    async def rebuild_all(self, progress: Callable[[int], None] | None = None, *, batch: int = 5000) -> None:
        """Rebuild every projection from zero, reading the log once for all of them."""
        for projection in self.projections.values():
            await self.reset(projection)
        while (count := await self.step_all(batch)) > 0:
            if progress:
                progress(count)

    def _decode(self, row: asyncpg.Record) -> object:
        # Several projections read the same events of a shared batch: decode each once.
        # (Events are immutable and handlers only read them, so sharing is safe.)
        position = row["notification_id"]
        if (event := self._decoded.get(position)) is None:
            event = self._decoded[position] = self.store.decode(row[1], row[2], row[3], row[4])
        return event

    async def _apply(self, conn: asyncpg.Connection, projection: Projection, rows: list) -> None:
        """Hand each relevant event to its handler; runs of one type to its batch handler, if any."""
        if (folds := getattr(projection, "rows", None)) is not None:
            await folds.apply(conn, [
                (self._decode(r), r["notification_id"]) for r in rows if r["topic"] in projection.topics
            ])
            return
        run: list[tuple[object, int]] = []
        for row in rows:
            if row["topic"] not in projection.topics:
                continue
            event = self._decode(row)
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
        # Only forward (`reset` moves back explicitly): two steps that overlap may report out of order.
        if position <= self.positions.get(name, -1):
            return  # nothing new for waiters
        self.positions[name] = position
        async with self._progress:
            self._progress.notify_all()

    def _on_append(self, _position: int) -> None:
        self._wake.set()

    async def _follow_all(self) -> None:
        failures = 0
        while True:
            self._wake.clear()
            self.failed = False
            try:
                if self.lease is not None and not await self.lease.keep():
                    # Another process follows; try for the lease again later.
                    await asyncio.sleep(self.lease.ttl_seconds / 3)
                    continue
                count = await self.step_all()
            except Exception:  # noqa: BLE001 - the follower must outlive one bad step
                log.exception("projections failed; retrying")
                self.failed = True
                count = 0
            if self.failed:
                failures += 1
                await asyncio.sleep(min(30.0, 0.5 * 2**failures))
                continue
            failures = 0
            if count < self.batch:
                await wait_event(self._wake, POLL_SECONDS)
