"""Reads across instances, from the instance summary projection."""

from __future__ import annotations

from uuid import UUID

import asyncpg


class InstanceViews:
    """Queries on `instance_view`; single instances are read by folding their events."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def by_target(self, target_id: str | None, *, limit: int, offset: int) -> list[UUID]:
        """Ids of live instances for a target (all when None), oldest first."""
        rows = await self.pool.fetch(
            "SELECT instance_id FROM instance_view WHERE ($1::text IS NULL OR target_id = $1)"
            " ORDER BY created_at, instance_id LIMIT $2 OFFSET $3",
            target_id, limit, offset,
        )
        return [r["instance_id"] for r in rows]
