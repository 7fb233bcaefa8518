"""Migrations beside running processes: a `serve` starting on a migrated database takes no table lock.

Seen in the chaos test: the restarted process re-ran every DDL script, whose ACCESS EXCLUSIVE
locks (even `ALTER TABLE ... ADD COLUMN IF NOT EXISTS`) deadlocked with the other processes'
readers; PostgreSQL then failed a request there (500) or the restart itself.
"""

from __future__ import annotations

import asyncio

import asyncpg

from services.bootstrap import migrate_all, schema_ready

_WAITING = "SELECT count(*) FROM pg_locks WHERE NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"


async def test_migrating_a_migrated_database_waits_for_no_reader(pool: asyncpg.Pool) -> None:
    assert await schema_ready(pool)
    waited = False
    async with pool.acquire() as reader:
        async with reader.transaction():
            # A running process's read, holding its table's ACCESS SHARE lock until it commits.
            await reader.fetchval("SELECT count(*) FROM script_task_view")
            migrating = asyncio.create_task(migrate_all(pool))
            # Either the migration ends, or it queues behind the reader's lock (where it would
            # stay for as long as the reader's transaction lasts): whichever comes first decides.
            while not migrating.done() and not waited:
                waited = await pool.fetchval(_WAITING) > 0
                await asyncio.sleep(0.02)
        await migrating  # the reader has committed: it ends either way
    assert not waited, "the migration of a migrated database waited for a table lock a reader held"
    assert await schema_ready(pool)
