"""Filling a store fast: COPY of many instances' events, in the event store's own format.

A template is taken from the store itself: every event of one real instance that a real
service wrote (same topics, same encoded state). Each copy gets a new originator id, the next
positions, and the SHA-256 hash chained exactly as `procession_append` chains it, so the
seeded log verifies and reads like any other.
"""

from __future__ import annotations

import uuid

import asyncpg

from infra.hash_chain import GENESIS, chain_hash

COLUMNS = ("originator_id", "originator_version", "topic", "state", "notification_id", "hash")


async def template(conn: asyncpg.Connection, originator_id: uuid.UUID) -> list[tuple[int, str, bytes]]:
    """(version, topic, state) of every event of one aggregate."""
    rows = await conn.fetch(
        "SELECT originator_version, topic, state FROM procession_events WHERE originator_id = $1"
        " ORDER BY originator_version", originator_id,
    )
    return [(r[0], r[1], bytes(r[2])) for r in rows]


async def seed(conn: asyncpg.Connection, events: list[tuple[int, str, bytes]], total: int, *, chunk: int = 50_000) -> int:
    """Append copies of `events` (one new aggregate each) until about `total` more events; how many."""
    last = await conn.fetchrow("SELECT notification_id, hash FROM procession_events ORDER BY notification_id DESC LIMIT 1")
    position, prev = (last[0], bytes(last[1])) if last else (0, GENESIS)
    written, records = 0, []
    copies = max(1, total // len(events))
    for _ in range(copies):
        aggregate = uuid.uuid4()
        for version, topic, state in events:
            position += 1
            prev = chain_hash(prev, position, aggregate, version, topic, state)
            records.append((aggregate, version, topic, state, position, prev))
        if len(records) >= chunk:
            await conn.copy_records_to_table("procession_events", records=records, columns=COLUMNS)
            written += len(records)
            records = []
    if records:
        await conn.copy_records_to_table("procession_events", records=records, columns=COLUMNS)
        written += len(records)
    await conn.execute("SELECT setval(pg_get_serial_sequence('procession_events', 'notification_id'), $1)", position)
    await conn.execute("ANALYZE procession_events")
    return written
