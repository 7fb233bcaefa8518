"""How far the followers of the log (projections, the Kafka relay) are behind it, from their tracking rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

_LAGS = """
SELECT n.name, coalesce(t.position, 0) AS position,
       greatest((SELECT coalesce(max(notification_id), 0) FROM procession_events) - coalesce(t.position, 0), 0) AS behind,
       coalesce(extract(epoch FROM clock_timestamp() - (
           SELECT e.recorded_at FROM procession_events e WHERE e.notification_id > coalesce(t.position, 0)
           ORDER BY e.notification_id LIMIT 1)), 0)::float8 AS seconds
FROM unnest($1::text[]) AS n(name) LEFT JOIN procession_tracking t ON t.name = n.name
"""


@dataclass(frozen=True)
class FollowerLag:
    """One follower: its position, how many positions it is behind, and the age of its oldest unseen event."""

    name: str
    position: int
    behind_events: int
    behind_seconds: float


async def follower_lags(pool: asyncpg.Pool, names: Sequence[str]) -> list[FollowerLag]:
    """The lag of each named follower (one that never ran is at position 0)."""
    rows = await pool.fetch(_LAGS, list(names))
    return [FollowerLag(r["name"], r["position"], r["behind"], max(0.0, r["seconds"])) for r in rows]
