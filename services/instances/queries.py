"""Reads across instances, from the instance summary projection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
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
        if target_id is not None and "\x00" in target_id:
            return []  # no stored target holds a NUL, and PostgreSQL cannot be asked about one
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

    async def page(self, where: InstanceFilter, *, sort: str = "created", descending: bool = True,
                   offset: int = 0, limit: int = 50) -> InstancePage:
        """A page of instances matching `where`, sorted by one of `PORTAL_SORTS`, and the total count."""
        return await _list_page(self.pool, where, sort=sort, descending=descending, offset=offset, limit=limit)

    async def children(self, who: Principal, parent_id: UUID) -> list[UUID]:
        """The processes started for a process (its handlers' processes) that the caller may see, oldest first."""
        values: list[Any] = [parent_id]
        visible = visible_sql(who, _collector(values))
        rows = await self.pool.fetch(
            f"SELECT instance_id FROM instance_view WHERE parent_id = $1 AND {visible} ORDER BY created_at, instance_id",
            *values,
        )
        return [r["instance_id"] for r in rows]

    async def counts_by_status(self, who: Principal) -> dict[str, int]:
        """How many instances the caller may see are in each status."""
        values: list[Any] = []
        visible = visible_sql(who, _collector(values))
        rows = await self.pool.fetch(f"SELECT status, count(*) AS n FROM instance_view WHERE {visible} GROUP BY status", *values)
        return {r["status"]: r["n"] for r in rows}

    async def runs_per_hour(self, who: Principal, since: datetime) -> list[tuple[datetime, int]]:
        """Instances the caller may see created per hour since a moment, oldest hour first (hours with none included)."""
        values: list[Any] = [since]
        visible = visible_sql(who, _collector(values))
        rows = await self.pool.fetch(
            "SELECT h AS hour, (SELECT count(*) FROM instance_view WHERE created_at >= h AND created_at < h + interval '1 hour'"
            f" AND {visible}) AS n"
            " FROM generate_series(date_trunc('hour', $1::timestamptz), now(), interval '1 hour') h ORDER BY h",
            *values,
        )
        return [(r["hour"], r["n"]) for r in rows]

    async def changed_since(self, who: Principal, since: datetime) -> datetime | None:
        """The latest change time of any instance the caller may see after `since`, or None: the list's live signal."""
        values: list[Any] = [since]
        visible = visible_sql(who, _collector(values))
        return await self.pool.fetchval(
            f"SELECT max(updated_at) FROM instance_view WHERE updated_at > $1 AND {visible}", *values,
        )


# The portal's list (issue 11): every instance from every face, filtered, sorted and paged.
PORTAL_SORTS = {
    "created": "created_at", "updated": "updated_at", "started": "started_at", "ended": "ended_at",
    "status": "status", "definition": "definition_key", "initiator": "initiator",
}


@dataclass(frozen=True)
class InstanceFilter:
    """What a list of instances asks for; every set field narrows it."""

    visible_to: Principal | None = None  # only what this caller may see (the one ownership rule); None: all
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
        clauses.append(visible_sql(where.visible_to, arg))
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


def _collector(values: list[Any]) -> Any:
    """An `arg(value)` for `visible_sql` that appends to `values` and names the placeholder."""
    def arg(value: Any) -> str:
        values.append(value)
        return f"${len(values)}"
    return arg
