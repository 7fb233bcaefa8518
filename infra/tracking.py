"""Tracking positions: how far each follower of the log (a projection, the Kafka relay) has got.

One row per follower in `procession_tracking`. A follower that writes its own rows locks its
position in the same transaction (`lock`, `record`); one that only moves on uses a
compare-and-set, so two processes following the same log never step back or skip.
"""

from __future__ import annotations

import asyncpg


async def position(pool: asyncpg.Pool, name: str) -> int:
    """A follower's recorded position (0 before its first record)."""
    return await pool.fetchval("SELECT coalesce((SELECT position FROM procession_tracking WHERE name = $1), 0)", name)


async def lock(conn: asyncpg.Connection, name: str) -> int:
    """A follower's position, its row created on first use and locked for the transaction."""
    return await conn.fetchval(
        "INSERT INTO procession_tracking AS t (name, position) VALUES ($1, 0)"
        " ON CONFLICT (name) DO UPDATE SET position = t.position RETURNING t.position",
        name,
    )


async def record(conn: asyncpg.Connection, name: str, to: int) -> None:
    """Record a follower's new position inside the caller's transaction."""
    await conn.execute(
        "INSERT INTO procession_tracking (name, position) VALUES ($1, $2)"
        " ON CONFLICT (name) DO UPDATE SET position = excluded.position",
        name, to,
    )


async def move(pool: asyncpg.Pool, name: str, expected: int, to: int) -> int | None:
    """Move a follower on only if it is still where the caller saw it; the new position, or None."""
    return await pool.fetchval(
        "UPDATE procession_tracking SET position = $3 WHERE name = $1 AND position = $2 RETURNING position",
        name, expected, to,
    )


async def lock_all(conn: asyncpg.Connection, names: list[str]) -> dict[str, int]:
    """Several followers' positions, locked for the transaction in the order given (sort them:
    two processes locking the same rows in one order never deadlock)."""
    rows = await conn.fetch(
        "INSERT INTO procession_tracking AS t (name, position) SELECT n, 0 FROM unnest($1::text[]) AS n"
        " ON CONFLICT (name) DO UPDATE SET position = t.position RETURNING t.name, t.position",
        names,
    )
    return {r["name"]: r["position"] for r in rows}


async def record_all(conn: asyncpg.Connection, positions: dict[str, int], *, announce: str) -> None:
    """Record several positions in one statement, and NOTIFY `announce` with `name=position,...` at commit."""
    await conn.execute(
        "WITH moved AS (UPDATE procession_tracking t SET position = k.position"
        " FROM unnest($1::text[], $2::bigint[]) AS k(name, position) WHERE t.name = k.name"
        " RETURNING t.name, t.position)"
        " SELECT pg_notify($3, (SELECT string_agg(name || '=' || position, ',') FROM moved))",
        list(positions), list(positions.values()), announce,
    )
