"""Reads across instances, from the instance summary projection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
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

    async def page(self, where: InstanceFilter, *, sort: str = "created", descending: bool = True,
                   offset: int = 0, limit: int = 50) -> InstancePage:
        """A page of instances matching `where`, sorted by one of `PORTAL_SORTS`, and the total count."""
        return await _list_page(self.pool, where, sort=sort, descending=descending, offset=offset, limit=limit)

    async def counts_by_status(self, visible_to: str | None) -> dict[str, int]:
        """How many instances are in each status (a user's own, or everyone's)."""
        rows = await self.pool.fetch(
            "SELECT status, count(*) AS n FROM instance_view WHERE ($1::text IS NULL OR initiator = $1) GROUP BY status",
            visible_to,
        )
        return {r["status"]: r["n"] for r in rows}

    async def runs_per_hour(self, visible_to: str | None, since: datetime) -> list[tuple[datetime, int]]:
        """Instances created per hour since a moment, oldest hour first (hours with none included)."""
        rows = await self.pool.fetch(
            "SELECT h AS hour, (SELECT count(*) FROM instance_view WHERE created_at >= h AND created_at < h + interval '1 hour'"
            " AND ($1::text IS NULL OR initiator = $1)) AS n"
            " FROM generate_series(date_trunc('hour', $2::timestamptz), now(), interval '1 hour') h ORDER BY h",
            visible_to, since,
        )
        return [(r["hour"], r["n"]) for r in rows]

    async def changed_since(self, visible_to: str | None, since: datetime) -> datetime | None:
        """The latest change time of any (visible) instance after `since`, or None: the list's live signal."""
        return await self.pool.fetchval(
            "SELECT max(updated_at) FROM instance_view WHERE updated_at > $2 AND ($1::text IS NULL OR initiator = $1)",
            visible_to, since,
        )


# The portal's list (issue 11): every instance from every face, filtered, sorted and paged.
PORTAL_SORTS = {
    "created": "created_at", "updated": "updated_at", "started": "started_at", "ended": "ended_at",
    "status": "status", "definition": "definition_key", "initiator": "initiator",
}


@dataclass(frozen=True)
class InstanceFilter:
    """What a list of instances asks for; every set field narrows it."""

    visible_to: str | None = None  # a user's own instances only (None: everyone's, for admins)
    statuses: tuple[str, ...] = ()
    definition: str | None = None
    initiator: str | None = None
    assignee: str | None = None  # any value of the assignment (a person or a team)
    created_from: datetime | None = None
    created_to: datetime | None = None


@dataclass(frozen=True)
class InstanceRow:
    """One instance as lists show it."""

    id: UUID
    definition_key: str
    definition_version: int
    status: str
    current_element: str | None
    permitted_triggers: list[str]
    initiator: str
    owner: str | None
    target_id: str | None
    assignment: dict[str, Any]
    version: int
    created_at: datetime
    started_at: datetime | None
    updated_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True)
class InstancePage:
    """One page of rows and how many match in all."""

    rows: list[InstanceRow]
    total: int


_COLUMNS = (
    "instance_id, definition_key, definition_version, status, current_element, permitted_triggers, initiator, owner,"
    " target_id, assignment, aggregate_version, created_at, started_at, updated_at, ended_at"
)


def _row(r: Any) -> InstanceRow:
    return InstanceRow(*r.values())


async def _list_page(pool: asyncpg.Pool, where: InstanceFilter, *, sort: str, descending: bool, offset: int,
                     limit: int) -> InstancePage:
    clauses: list[str] = []
    values: list[Any] = []

    def arg(value: Any) -> str:
        values.append(value)
        return f"${len(values)}"

    if where.visible_to is not None:
        clauses.append(f"initiator = {arg(where.visible_to)}")
    if where.statuses:
        clauses.append(f"status = ANY({arg(list(where.statuses))}::text[])")
    if where.definition:
        clauses.append(f"definition_key = {arg(where.definition)}")
    if where.initiator:
        clauses.append(f"initiator = {arg(where.initiator)}")
    if where.assignee:
        clauses.append(f"EXISTS (SELECT 1 FROM jsonb_each_text(assignment) a WHERE a.value = {arg(where.assignee)})")
    if where.created_from:
        clauses.append(f"created_at >= {arg(where.created_from)}")
    if where.created_to:
        clauses.append(f"created_at < {arg(where.created_to)}")
    condition = " AND ".join(clauses) or "true"
    order = f"{PORTAL_SORTS[sort]} {'DESC' if descending else 'ASC'} NULLS LAST, instance_id"
    async with pool.acquire() as conn:
        total = await conn.fetchval(f"SELECT count(*) FROM instance_view WHERE {condition}", *values)
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM instance_view WHERE {condition} ORDER BY {order}"
            f" LIMIT {arg(limit)} OFFSET {arg(offset)}", *values,
        )
    return InstancePage([_row(r) for r in rows], total)
