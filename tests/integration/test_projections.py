"""Projections on real PostgreSQL: catching up, following, atomic steps, rebuilds, two runners."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from events.definition import ProcessDefinition as D
from events.process_key import ProcessKey as K
from infra.event_store import EventStore
from infra.projection_runner import ProjectionRunner
from infra.settings import Settings
from projections.base import Projection
from projections.definitions import PROJECTION as DEFINITIONS
from services.cli import _rebuild
from services.definitions.service import DefinitionService
from services.definitions.commands import DeleteDefinition
from services.definitions.commands import RemoveVersion
from services.definitions.commands import RenameDefinition
from services.definitions.commands import SaveDefinition
from services.definitions.commands import TagVersion
from services.definitions.commands import UntagVersion
from tests.factories import ALICE, a_claim, a_configuration, a_definition, creation

VIEWS = {
    "definition_view": "definition_id",
    "definition_version_view": "definition_id, version",
    "definition_tag_view": "definition_id, tag",
}


async def _record(conn: Any, _event: Any, position: int) -> None:
    await conn.execute("INSERT INTO applied_events (position) VALUES ($1)", position)


# Records every position it applies; its primary key refuses an event applied twice.
LEDGER = Projection(
    name="ledger",
    schema="CREATE TABLE IF NOT EXISTS applied_events (position bigint PRIMARY KEY)",
    tables=("applied_events",),
    handlers={
        cls: _record
        for cls in (D.Registered, D.VersionCreated, D.Tagged, D.TagRemoved, D.Renamed, D.VersionRemoved,
                    D.Deleted, K.Opened, K.Claimed, K.Released)
    },
)


async def _refuse(_conn: Any, _event: Any, _position: int) -> None:
    raise RuntimeError("this handler fails")


async def _write_row(conn: Any, _event: Any, position: int) -> None:
    await conn.execute("INSERT INTO failing_rows (position) VALUES ($1)", position)


# Writes a row for each version, then fails on the first tag.
FAILING = Projection(
    name="failing",
    schema="CREATE TABLE IF NOT EXISTS failing_rows (position bigint PRIMARY KEY)",
    tables=("failing_rows",),
    handlers={D.VersionCreated: _write_row, D.Tagged: _refuse},
)


async def snapshot(pool: asyncpg.Pool) -> dict[str, list[dict[str, Any]]]:
    """Every row of the definition views, in key order."""
    return {
        table: [dict(r) for r in await pool.fetch(f"SELECT * FROM {table} ORDER BY {order}")]
        for table, order in VIEWS.items()
    }


async def tracked(pool: asyncpg.Pool, name: str) -> int | None:
    return await pool.fetchval("SELECT position FROM procession_tracking WHERE name = $1", name)


async def versions_by_key(pool: asyncpg.Pool) -> dict[str, list[int]]:
    rows = await pool.fetch(
        "SELECT d.key, array_agg(v.version ORDER BY v.version) AS versions FROM definition_view d"
        " JOIN definition_version_view v USING (definition_id) GROUP BY d.key"
    )
    return {r["key"]: list(r["versions"]) for r in rows}


async def drain(runner: ProjectionRunner, projections: list[Projection]) -> None:
    """Step every projection until none reads anything more."""
    while sum([await runner.step(p) for p in projections]) > 0:
        pass


async def test_the_definitions_projection_catches_up_from_zero(
    store: EventStore, runner: ProjectionRunner, pool: asyncpg.Pool
) -> None:
    for n in range(5):
        await store.append(creation(f"key-{n}", versions=n + 1, tags={"prod": 1}))
    position = await store.max_position()

    await runner.start()

    assert await runner.wait_for(position, timeout=10)
    assert await versions_by_key(pool) == {f"key-{n}": list(range(1, n + 2)) for n in range(5)}
    assert await pool.fetchval("SELECT count(*) FROM definition_tag_view WHERE tag = 'prod'") == 5
    assert await tracked(pool, DEFINITIONS.name) == position


async def test_the_definitions_projection_follows_live_appends(
    store: EventStore, runner: ProjectionRunner, pool: asyncpg.Pool
) -> None:
    await runner.start()
    await store.append(creation("first"))
    definition = a_definition("second", versions=2)

    appended = await store.append([*definition.collect_events(), *a_claim(definition).collect_events()])

    assert await runner.wait_for(appended.last_position, timeout=10)
    row = await pool.fetchrow("SELECT * FROM definition_view WHERE key = 'second'")
    assert (row["current_version"], row["configuration"]) == (2, a_configuration(2))


async def test_a_projection_follows_appends_made_by_another_process(
    other_store: EventStore, runner: ProjectionRunner, pool: asyncpg.Pool
) -> None:
    await runner.start()

    appended = await other_store.append(creation("elsewhere"))

    assert await runner.wait_for(appended.last_position, timeout=10)
    assert await versions_by_key(pool) == {"elsewhere": [1]}


async def test_each_step_commits_its_rows_with_the_position_of_the_last_event_read(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    runner = ProjectionRunner(store, [DEFINITIONS], batch=2)
    await runner.prepare()
    # Registered, VersionCreated(1), VersionCreated(2), Tagged, then the claim's Opened, Claimed.
    appended = await store.append(creation("invoice", versions=2, tags={"prod": 1}))
    first = appended.first_position

    assert await runner.step(DEFINITIONS) == 2
    assert await tracked(pool, DEFINITIONS.name) == first + 1
    assert await versions_by_key(pool) == {"invoice": [1]}
    assert await pool.fetchval("SELECT count(*) FROM definition_tag_view") == 0

    assert await runner.step(DEFINITIONS) == 2
    assert await tracked(pool, DEFINITIONS.name) == first + 3
    assert await versions_by_key(pool) == {"invoice": [1, 2]}
    assert await pool.fetchval("SELECT version FROM definition_tag_view WHERE tag = 'prod'") == 1

    assert await runner.step(DEFINITIONS) == 2  # the claim's events: read, and passed over
    assert await runner.step(DEFINITIONS) == 0
    assert await tracked(pool, DEFINITIONS.name) == appended.last_position
    assert runner.positions[DEFINITIONS.name] == appended.last_position


async def test_a_failing_step_writes_neither_rows_nor_position(store: EventStore, pool: asyncpg.Pool) -> None:
    runner = ProjectionRunner(store, [FAILING])
    await runner.prepare()
    await store.append(creation("invoice", versions=2, tags={"prod": 1}))

    with pytest.raises(RuntimeError, match="this handler fails"):
        await runner.step(FAILING)

    assert await pool.fetchval("SELECT count(*) FROM failing_rows") == 0
    assert await tracked(pool, FAILING.name) is None


async def test_a_failing_projection_does_not_hold_the_others_back_in_a_shared_step(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    runner = ProjectionRunner(store, [FAILING, LEDGER])
    await runner.prepare()
    appended = await store.append(creation("invoice", versions=2, tags={"prod": 1}))

    await runner.step_all()

    assert await tracked(pool, LEDGER.name) == appended.last_position
    assert await pool.fetchval("SELECT count(*) FROM applied_events") > 0
    assert await pool.fetchval("SELECT count(*) FROM failing_rows") == 0
    assert (await tracked(pool, FAILING.name) or 0) < appended.last_position
    assert runner.failed


async def make_varied_history(definitions: DefinitionService) -> None:
    """Creations, versions, moved and removed tags, a rename, rollbacks, a delete and a re-creation."""
    save = definitions.save
    for n in range(1, 4):
        await save(ALICE, SaveDefinition("alpha", a_configuration(n)))
    await definitions.tag(ALICE, TagVersion("alpha", "1", "prod"))
    await definitions.tag(ALICE, TagVersion("alpha", "2", "prod"))
    await definitions.tag(ALICE, TagVersion("alpha", "3", "beta"))
    await definitions.tag(ALICE, TagVersion("alpha", "3", "edge"))
    await definitions.untag(ALICE, UntagVersion("alpha", "beta"))
    await definitions.rename(ALICE, RenameDefinition("alpha", "omega"))
    await definitions.remove_version(ALICE, RemoveVersion("omega", "~LATEST"))
    await save(ALICE, SaveDefinition("omega", a_configuration(7)))
    for n in range(1, 3):
        await save(ALICE, SaveDefinition("beta", a_configuration(n)))
    await definitions.tag(ALICE, TagVersion("beta", "2", "prod"))
    await definitions.delete(ALICE, DeleteDefinition("beta"))
    await save(ALICE, SaveDefinition("beta", a_configuration(5)))
    await save(ALICE, SaveDefinition("alpha", a_configuration(8)))  # the renamed key is free again
    for n in range(1, 4):
        await save(ALICE, SaveDefinition("gamma", a_configuration(n)))
    await definitions.remove_version(ALICE, RemoveVersion("gamma", "1"))
    await save(ALICE, SaveDefinition("short-lived", a_configuration(1)))
    await definitions.remove_version(ALICE, RemoveVersion("short-lived", "~LATEST"))


async def test_rebuilding_the_definitions_projection_gives_identical_read_models(
    definitions: DefinitionService, runner: ProjectionRunner, store: EventStore, pool: asyncpg.Pool
) -> None:
    await make_varied_history(definitions)
    assert await runner.wait_for(await store.max_position(), timeout=10)
    before = await snapshot(pool)
    await runner.stop()

    await runner.rebuild(DEFINITIONS)

    assert await snapshot(pool) == before
    assert await versions_by_key(pool) == {"omega": [1, 2, 4], "beta": [1], "alpha": [1], "gamma": [2, 3]}
    tags = await pool.fetch(
        "SELECT d.key, t.tag, t.version FROM definition_tag_view t JOIN definition_view d USING (definition_id)"
    )
    assert {tuple(r) for r in tags} == {("omega", "prod", 2)}


async def test_rebuilding_through_the_cli_gives_identical_read_models(
    definitions: DefinitionService, runner: ProjectionRunner, store: EventStore, pool: asyncpg.Pool,
    settings: Settings,
) -> None:
    await make_varied_history(definitions)
    assert await runner.wait_for(await store.max_position(), timeout=10)
    before = await snapshot(pool)
    await runner.stop()
    await pool.execute("DELETE FROM definition_version_view")  # damage the read model

    await _rebuild(settings, [])

    assert await snapshot(pool) == before
    assert await tracked(pool, DEFINITIONS.name) == await store.max_position()


async def test_two_runners_on_two_pools_never_apply_an_event_twice(
    store: EventStore, other_store: EventStore, pool: asyncpg.Pool
) -> None:
    runners = [ProjectionRunner(s, [DEFINITIONS, LEDGER], batch=5) for s in (store, other_store)]
    await runners[0].prepare()
    for n in range(10):
        await store.append(creation(f"early-{n}", versions=3, tags={"prod": 2}))

    async def write_more() -> None:
        for n in range(10):
            await other_store.append(creation(f"late-{n}", versions=2))

    # Both runners step through the same events while more arrive; the last drains follow the writers.
    await asyncio.gather(write_more(), *(drain(r, [DEFINITIONS, LEDGER]) for r in runners))
    await asyncio.gather(*(drain(r, [DEFINITIONS, LEDGER]) for r in runners))

    positions = [r["notification_id"] for r in await pool.fetch("SELECT notification_id FROM procession_events")]
    applied = [r["position"] for r in await pool.fetch("SELECT position FROM applied_events")]
    assert sorted(applied) == sorted(positions)
    expected = {f"early-{n}": [1, 2, 3] for n in range(10)} | {f"late-{n}": [1, 2] for n in range(10)}
    assert await versions_by_key(pool) == expected
    assert await pool.fetchval("SELECT count(*) FROM definition_tag_view") == 10
    assert await tracked(pool, LEDGER.name) == await tracked(pool, DEFINITIONS.name) == max(positions)
