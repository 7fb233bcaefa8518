"""Reads across instances, from the instance summary projection."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from infra.tokens import Principal
from services.instances.access import visible_sql


class InstanceViews:
    """Queries on `instance_view`; single instances are read by folding their events."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def by_target(self, who: Principal, target_id: str | None, *, limit: int, offset: int) -> list[UUID]:
        """Ids of live instances the caller may see, for a target (all when None), oldest first."""
        values: list[object] = [target_id]

        def arg(value: object) -> str:
            values.append(value)
            return f"${len(values)}"

        visible = visible_sql(who, arg)
        rows = await self.pool.fetch(
            f"SELECT instance_id FROM instance_view WHERE ($1::text IS NULL OR target_id = $1) AND {visible}"
            f" ORDER BY created_at, instance_id LIMIT {arg(limit)} OFFSET {arg(offset)}",
            *values,
        )
        return [r["instance_id"] for r in rows]
