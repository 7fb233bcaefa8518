"""The event store on real PostgreSQL: round trips, concurrency, group commit, the hash chain."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Awaitable
from typing import Any
from uuid import uuid4

import asyncpg
import pytest

from infra.event_store import Appended, EventStore, VersionConflict
from tests.factories import a_configuration, a_definition, creation, fold, state
from tests.polling import until

ZERO_HASH = bytes(32)


async def stored_rows(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT notification_id, originator_id, originator_version, topic, state, hash"
        " FROM procession_events ORDER BY notification_id"
    )


def first_broken_link(rows: list[asyncpg.Record]) -> int | None:
    """The position of the first row whose hash does not follow from its predecessor's."""
    prev = ZERO_HASH
    for row in rows:
        expected = hashlib.sha256(
            prev
            + row["notification_id"].to_bytes(8, "big", signed=True)
            + row["originator_id"].bytes
            + row["originator_version"].to_bytes(8, "big", signed=True)
            + row["topic"].encode()
            + row["state"]
        ).digest()
        if expected != row["hash"]:
            return row["notification_id"]
        # Chain from what is stored, so one altered row is reported alone.
        prev = row["hash"]
    return None


@contextlib.asynccontextmanager
async def writes_held(pool: asyncpg.Pool, store: EventStore) -> AsyncIterator[None]:
    """Hold the store's writer inside a batch, so that the commands appended meanwhile queue up.

    A first command is appended while another transaction holds the table lock the append
    function takes; once the writer waits for that lock, everything appended in the block
    queues behind it and goes into the writer's next batch.
    """
    async with pool.acquire() as conn:
        async with conn.transaction():
            await conn.execute("LOCK TABLE procession_events IN EXCLUSIVE MODE")
            first = asyncio.create_task(store.append(creation("held-open")))

            def writer_waits() -> Awaitable[bool]:
                return conn.fetchval(
                    "SELECT count(*) > 0 FROM pg_locks"
                    " WHERE relation = 'procession_events'::regclass AND NOT granted"
                )

            await until(writer_waits, within=10, every=0.01)
            yield
        await first


async def test_appended_events_load_back_as_the_same_domain_events(store: EventStore) -> None:
    definition = a_definition("invoice", versions=3, tags={"prod": 2, "beta": 3})
    definition.rename("bill", "bob")
    definition.rollback("bob")
    events = definition.collect_events()

    appended = await store.append(events)
    loaded = await store.load(definition.id)

    assert [type(e) for e in loaded] == [type(e) for e in events]
    assert loaded == events
    assert appended.last_position - appended.first_position == len(events) - 1
    assert state(fold(loaded)) == state(definition)


async def test_loading_to_a_version_folds_the_aggregate_as_it_was_then(store: EventStore) -> None:
    definition = a_definition("invoice", versions=3)
    await store.append(definition.collect_events())

    past = fold(await store.load(definition.id, to_version=3))

    assert sorted(past.versions) == [1, 2]


@pytest.mark.parametrize("across_processes", [False, True], ids=["one-process", "two-processes"])
async def test_of_two_commands_from_the_same_version_exactly_one_is_stored(
    store: EventStore, other_store: EventStore, across_processes: bool
) -> None:
    other = other_store if across_processes else store
    definition = a_definition("invoice")
    await store.append(definition.collect_events())
    first_copy = fold(await store.load(definition.id))
    second_copy = fold(await store.load(definition.id))
    first_copy.add_version(a_configuration(2), "alice")
    second_copy.tag("1", "prod", "bob")
    commands = [first_copy.collect_events(), second_copy.collect_events()]

    outcomes = await asyncio.gather(
        store.append(commands[0]), other.append(commands[1]), return_exceptions=True
    )

    winners = [i for i, o in enumerate(outcomes) if isinstance(o, Appended)]
    losers = [o for o in outcomes if isinstance(o, VersionConflict)]
    assert len(winners) == 1 and len(losers) == 1
    stored = await store.load(definition.id)
    assert stored[definition.version:] == commands[winners[0]]


async def test_concurrent_appends_are_written_in_fewer_transactions_than_commands(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    commands = [creation(f"key-{n}") for n in range(50)]

    outcomes = await asyncio.gather(*(store.append(c) for c in commands))

    assert all(isinstance(o, Appended) and o.duplicate_of is None for o in outcomes)
    assert await pool.fetchval("SELECT count(*) FROM procession_events") == sum(map(len, commands))
    transactions = await pool.fetchval("SELECT count(DISTINCT xmin::text) FROM procession_events")
    assert transactions < len(commands)


async def test_a_conflict_fails_only_its_own_command_in_a_batch(store: EventStore, pool: asyncpg.Pool) -> None:
    definition = a_definition("contested")
    await store.append(definition.collect_events())
    stale = fold(await store.load(definition.id))
    definition.tag("1", "prod", "alice")
    await store.append(definition.collect_events())
    stale.add_version(a_configuration(2), "bob")
    others = [creation(f"key-{n}") for n in range(30)]

    async with writes_held(pool, store):
        tasks = [asyncio.create_task(store.append(c)) for c in others[:15]]
        tasks.append(asyncio.create_task(store.append(stale.collect_events())))
        tasks += [asyncio.create_task(store.append(c)) for c in others[15:]]
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)

    assert isinstance(outcomes.pop(15), VersionConflict)
    assert all(isinstance(o, Appended) for o in outcomes)
    ids = [e.originator_id for c in others for e in c]
    batches = await pool.fetchval(
        "SELECT count(DISTINCT xmin::text) FROM procession_events WHERE originator_id = ANY($1)", ids
    )
    assert batches == 1  # the neighbours of the conflict were written together, in one batch
    assert await pool.fetchval("SELECT count(*) FROM procession_events WHERE originator_id = ANY($1)", ids) == sum(
        map(len, others)
    )
    assert state(fold(await store.load(definition.id))) == state(definition)


async def test_a_repeated_idempotency_key_answers_the_first_result_and_stores_nothing(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    first = await store.append(creation("first"), idempotency_key="alice\x1fkey-1", result=b'{"answer": 1}')
    count = await pool.fetchval("SELECT count(*) FROM procession_events")
    repeated_events = creation("second")

    repeated = await store.append(repeated_events, idempotency_key="alice\x1fkey-1", result=b'{"answer": 2}')

    assert first.duplicate_of is None and first.last_position is not None
    assert repeated == Appended(None, None, duplicate_of=b'{"answer": 1}')
    assert await pool.fetchval("SELECT count(*) FROM procession_events") == count
    assert await store.load(repeated_events[0].originator_id) == []
    assert await store.idempotent_result("alice\x1fkey-1") == b'{"answer": 1}'


async def test_a_follower_reading_by_position_sees_every_event_once_in_order(
    store: EventStore, other_store: EventStore, pool: asyncpg.Pool
) -> None:
    written: list[int] = []

    async def write(writer: EventStore, name: str) -> None:
        for n in range(15):
            events = creation(f"{name}-{n}", versions=1 + n % 3)
            await writer.append(events)
            written.append(len(events))

    writers = asyncio.gather(
        *(write(s, f"w{i}") for i, s in enumerate([store, store, store, other_store, other_store, other_store]))
    )
    seen: list[int] = []
    last = 0
    while True:
        done = writers.done()  # read once more after the writers finish, to drain the tail
        batch = await store.read_after(last, limit=7)
        seen += [e.position for e in batch]
        last = batch[-1].position if batch else last
        if done and not batch:
            break
    await writers

    in_table = [r["notification_id"] for r in await stored_rows(pool)]
    assert seen == in_table
    assert len(seen) == sum(written)


async def test_every_stored_hash_follows_from_the_previous_one(
    store: EventStore, other_store: EventStore, pool: asyncpg.Pool
) -> None:
    await asyncio.gather(
        *((store, other_store)[n % 2].append(creation(f"key-{n}", versions=2)) for n in range(10))
    )
    rows = await stored_rows(pool)

    assert len(rows) == 10 * 5
    assert first_broken_link(rows) is None


async def test_changing_one_byte_of_a_stored_event_breaks_the_chain_at_that_event(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    for n in range(5):
        await store.append(creation(f"key-{n}", versions=2))
    tampered = (await stored_rows(pool))[7]["notification_id"]

    await pool.execute(
        "UPDATE procession_events SET state = set_byte(state, 2, get_byte(state, 2) # 1) WHERE notification_id = $1",
        tampered,
    )

    assert first_broken_link(await stored_rows(pool)) == tampered


async def test_another_process_hears_of_an_append_through_notify(store: EventStore, other_store: EventStore) -> None:
    heard = asyncio.Event()
    positions: list[int] = []

    def on_append(position: int) -> None:
        positions.append(position)
        heard.set()

    other_store.follow(on_append)

    appended = await store.append(creation("invoice"))
    await asyncio.wait_for(heard.wait(), 10)

    assert positions == [appended.last_position]


async def test_loading_an_unknown_aggregate_returns_no_events(store: EventStore) -> None:
    assert await store.load(uuid4()) == []


@pytest.mark.parametrize(
    "value",
    [{"_type_": "datetime_iso", "_data_": "2020-01-01T00:00:00"}, {"_type_": "bogus", "_data_": 1}],
    ids=["known-name", "unknown-name"],
)
async def test_a_configuration_shaped_like_a_tagged_value_loads_back_unchanged(
    store: EventStore, value: dict[str, Any]
) -> None:
    definition = a_definition("invoice")
    definition.add_version(a_configuration(2, input=value), "alice")
    events = definition.collect_events()
    await store.append(events)

    loaded = await store.load(definition.id)

    assert loaded == events


async def test_a_watch_wakes_on_its_own_aggregate_here_and_on_any_append_elsewhere(
    store: EventStore, other_store: EventStore
) -> None:
    first, second = creation("first"), creation("second")
    watch_first, watch_second = store.watch(first[0].originator_id), store.watch(second[0].originator_id)

    await store.append(first)

    assert watch_first.is_set() and not watch_second.is_set()
    await other_store.append(creation("elsewhere"))  # another process: its aggregates are not named
    async with asyncio.timeout(30):
        await watch_second.wait()
