"""Append throughput: raw asyncpg, the eventsourcing library's PostgreSQL application, our EventStore.

All six measurements run in one test, on one fresh database, one after the other, so the
ratios printed at the end compare figures taken under the same conditions.

- raw:     one single-row INSERT per command, each its own (autocommit) transaction, into
           `bench_raw`, a plain table shaped like procession_events (1 event per command).
- library: eventsourcing 9.5.6's own PostgreSQL application (psycopg3, synchronous, with its
           database functions), table `benchlibrary_events`; a command creates a
           ProcessDefinition (the same aggregate as ours, 2 events) and `app.save()`s it.
           Concurrency is threads.
- ours:    infra.event_store.EventStore (group commit through `procession_append`); a command
           is `ProcessDefinition.register(...)`'s collected events (2 events) passed to
           `await store.append(events)`. Concurrency is asyncio tasks.

Each configuration first runs a few untimed warm-up commands (connections, prepared
statements), then a fixed number of timed commands; time is wall clock (perf_counter)
from the first timed command to the last one's commit.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

import asyncpg
import pytest
from eventsourcing.application import Application

from events.definition import ProcessDefinition
from infra.event_store import EventStore
from infra.postgres import create_pool
from infra.transcoder import create_mapper

pytestmark = pytest.mark.perf

# Timed commands per configuration, by number of writers; PERF_SCALE multiplies them
# (e.g. PERF_SCALE=0.2 for a quick look). At 1.0 the slowest run (library@32) takes ~5 s.
SCALE = float(os.environ.get("PERF_SCALE", "1"))
COMMANDS = {1: max(50, int(2000 * SCALE)), 32: max(200, int(10000 * SCALE))}
WRITERS = (1, 32)
CONFIGURATION = {"script": "s"}


@dataclass(frozen=True)
class Result:
    name: str
    writers: int
    commands: int
    events: int
    seconds: float

    @property
    def commands_per_second(self) -> float:
        return self.commands / self.seconds

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds


def warmup_count(writers: int) -> int:
    return max(20, 2 * writers)


async def run_tasks(writers: int, commands: int, command: Callable[[int], Awaitable[None]]) -> float:
    """`commands` calls of `command(i)` shared among `writers` tasks; the wall-clock seconds."""
    numbers = iter(range(commands))

    async def writer() -> None:
        for i in numbers:
            await command(i)

    start = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    return time.perf_counter() - start


def run_threads(writers: int, commands: int, command: Callable[[int], None]) -> float:
    """The same with threads (the library's application is synchronous)."""
    numbers = itertools.count()
    lock = threading.Lock()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            while True:
                with lock:
                    i = next(numbers)
                if i >= commands:
                    return
                command(i)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, name=f"bench-writer-{n}") for n in range(writers)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    if errors:
        raise errors[0]
    return seconds


async def checkpoint(url: str) -> None:
    """Flush dirty pages before a measurement so no run pays for another's checkpoint."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CHECKPOINT")
    except asyncpg.PostgresError:
        pass  # not a superuser on an external server: measure anyway
    finally:
        await conn.close()


async def count_rows(url: str, table: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(f"SELECT count(*) FROM {table}")
    finally:
        await conn.close()


def sample_state() -> tuple[str, bytes]:
    """A real stored event's topic and state, so the raw rows weigh what ours weigh."""
    definition = ProcessDefinition.register("bench-sample", CONFIGURATION, "bench")
    stored = create_mapper().to_stored_event(definition.collect_events()[-1])
    return stored.topic, stored.state


# -- raw asyncpg ---------------------------------------------------------------------------


async def bench_raw(url: str, writers: int) -> Result:
    topic, state = sample_state()
    pool = await asyncpg.create_pool(url, min_size=writers, max_size=writers)
    insert = "INSERT INTO bench_raw (originator_id, originator_version, topic, state) VALUES ($1, $2, $3, $4)"

    async def command(_: int) -> None:
        await pool.execute(insert, uuid.uuid4(), 1, topic, state)

    try:
        await run_tasks(writers, warmup_count(writers), command)
        await checkpoint(url)
        commands = COMMANDS[writers]
        seconds = await run_tasks(writers, commands, command)
    finally:
        await asyncio.wait_for(pool.close(), 10)
    return Result("raw asyncpg, 1 row/commit", writers, commands, commands, seconds)


# -- the eventsourcing library's PostgreSQL application -------------------------------------


class BenchLibrary(Application):
    """The library's application; its table is `benchlibrary_events`."""

    name = "BenchLibrary"


def library_env(url: str, pool_size: int) -> dict[str, str]:
    """The library's settings from a PostgreSQL URL (a unix-socket `?host=` works as the host)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "localhost"])[0]
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_ENABLE_DB_FUNCTIONS": "y",
        "POSTGRES_DBNAME": parts.path.lstrip("/"),
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": str(parts.port or query.get("port", ["5432"])[0]),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_POOL_SIZE": str(pool_size),
        # The pool already holds one connection per writer thread; no overflow connections.
        "POSTGRES_MAX_OVERFLOW": "0",
        "POSTGRES_CONNECT_TIMEOUT": "30",
    }


def bench_library_blocking(url: str) -> list[Result]:
    app = BenchLibrary(env=library_env(url, pool_size=max(WRITERS)))
    results = []

    def command(i: int) -> None:
        app.save(ProcessDefinition.register(f"lib-{uuid.uuid4().hex}", CONFIGURATION, "bench"))

    try:
        for writers in WRITERS:
            run_threads(writers, warmup_count(writers), command)
            asyncio.run(checkpoint(url))
            commands = COMMANDS[writers]
            seconds = run_threads(writers, commands, command)
            results.append(Result("eventsourcing PostgreSQL app", writers, commands, 2 * commands, seconds))
    finally:
        app.close()
    return results


# -- ours ---------------------------------------------------------------------------------


async def bench_ours(url: str, writers: int) -> Result:
    pool = await create_pool(url, size=max(WRITERS))
    store = EventStore(pool, create_mapper())
    await store.start()

    async def command(i: int) -> None:
        definition = ProcessDefinition.register(f"ours-{writers}-{i}-{uuid.uuid4().hex[:8]}", CONFIGURATION, "bench")
        await store.append(definition.collect_events())

    try:
        await run_tasks(writers, warmup_count(writers), command)
        await checkpoint(url)
        commands = COMMANDS[writers]
        seconds = await run_tasks(writers, commands, command)
    finally:
        await store.stop()
        await asyncio.wait_for(pool.close(), 10)
    return Result("ours: EventStore (group commit)", writers, commands, 2 * commands, seconds)


async def test_append_throughput(database_url: str, report) -> None:
    url = database_url
    print(f"\nPostgreSQL: {await report.server_settings(url)}")
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "CREATE TABLE bench_raw (originator_id uuid NOT NULL, originator_version bigint NOT NULL,"
            " topic text, state bytea, PRIMARY KEY (originator_id, originator_version))"
        )
    finally:
        await conn.close()

    raw = {w: await bench_raw(url, w) for w in WRITERS}
    library = {r.writers: r for r in await asyncio.to_thread(bench_library_blocking, url)}
    ours = {w: await bench_ours(url, w) for w in WRITERS}

    # The work was done: every warm-up and timed command left its rows.
    expected_commands = sum(COMMANDS[w] + warmup_count(w) for w in WRITERS)
    assert await count_rows(url, "bench_raw") == expected_commands
    assert await count_rows(url, "benchlibrary_events") == 2 * expected_commands
    assert await count_rows(url, "procession_events") == 2 * expected_commands

    results = [raw[1], raw[32], library[1], library[32], ours[1], ours[32]]
    report.table(
        "Append throughput (one database, one run)",
        ["store", "writers", "commands", "events", "seconds", "commands/s", "events/s"],
        [
            [r.name, r.writers, r.commands, r.events, f"{r.seconds:.2f}", r.commands_per_second, r.events_per_second]
            for r in results
        ],
    )
    print("\nRatios (commands/s; library and ours both write 2 events per command, raw writes 1):")
    report.ratio("ours@32 / library@32", ours[32].commands_per_second / library[32].commands_per_second, 5)
    report.ratio("ours@32 / ours@1", ours[32].commands_per_second / ours[1].commands_per_second, 4)
    report.ratio("ours@32 / raw@32 (commands, informational)", ours[32].commands_per_second / raw[32].commands_per_second)
    report.ratio("ours@32 / raw@32 (events, informational)", ours[32].events_per_second / raw[32].events_per_second)
    report.ratio("library@32 / library@1 (informational)", library[32].commands_per_second / library[1].commands_per_second)
    report.ratio("raw@32 / raw@1 (informational)", raw[32].commands_per_second / raw[1].commands_per_second)
