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
