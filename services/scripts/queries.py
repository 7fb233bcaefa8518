"""Reads on the process list (`process_view`): one row, or a filtered, sorted page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from infra.tokens import Principal
from services.common.user_ids import user_uuid
from services.instances.access import visible_sql

# Sortable fields (the document's names) and their columns.
SORTS = {
    "script": "coalesce(p.script, p.definition_key)", "startTime": "coalesce(p.started_at, p.scheduled_for)",
    "endTime": "p.ended_at", "creationTime": "p.created_at", "status": "p.status", "userId": "p.initiator",
}
# A process row with its instance's assignment (who else may see it).
_FROM = "FROM process_view p LEFT JOIN instance_view i ON i.instance_id = p.instance_id"


@dataclass
class ProcessFilter:
    """What a list asks for; every field narrows it."""

    initiator: str | None = None
    # DSpace's `userId=<uuid>`: the initiator whose derived UUID this is (services/common/user_ids.py).
    initiator_uuid: UUID | None = None
    script: str | None = None
    statuses: tuple[str, ...] | None = None
    since: datetime | None = None  # created at or after
    # Each entry: the canonical keys a parameter name may mean, and the value wanted.
    parameters: list[tuple[set[str], str]] = field(default_factory=list)
    # Only what this caller may see (the one ownership rule); None: no such limit.
    visible_to: Principal | None = None

    def asks_for_nul(self) -> bool:
        """Whether a text it matches holds a NUL: no stored text does, and PostgreSQL cannot be asked."""
        texts = [self.initiator or "", self.script or ""]
        texts += [text for keys, value in self.parameters for text in (*keys, value)]
        return any("\x00" in text for text in texts)


@dataclass(frozen=True)
class ProcessSummary:
    """One row of the process list: a process whichever face started it."""

    instance_id: UUID
    definition_key: str
    script: str | None
    initiator: str
    status: str
    parameters: dict[str, Any]
    created_at: datetime
    scheduled_for: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    # The instance's assignment (who else may see it), from the instance summary.
    assignment: dict[str, Any] | None = None
    # Parameter names as sent (canonical key -> name), when a script start recorded them.
    parameter_names: dict[str, str] | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed", "stopped")


_COLUMNS = ", ".join(f"p.{name}" for name in ProcessSummary.__dataclass_fields__ if name != "assignment")
_ROW = f"SELECT {_COLUMNS}, i.assignment {_FROM}"


class ProcessViews:
    """Queries on `process_view`."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def one(self, instance_id: str) -> ProcessSummary | None:
        """One live process, or None."""
        try:
            uid = UUID(instance_id)
        except ValueError:
            return None
        row = await self.pool.fetchrow(_ROW + " WHERE p.instance_id = $1", uid)
        return None if row is None else ProcessSummary(**row)

    async def page(
        self, where: ProcessFilter, *, sort: str, descending: bool, number: int, size: int
    ) -> tuple[list[ProcessSummary], int]:
        """One page of processes and the total count."""
        if where.asks_for_nul():
            return [], 0
        clauses, values = [], []

        def arg(value: Any) -> str:
            values.append(value)
            return f"${len(values)}"

        if where.visible_to is not None:
            clauses.append(visible_sql(where.visible_to, arg, initiator="p.initiator", assignment="i.assignment"))
        if where.initiator is not None:
            clauses.append(f"p.initiator = {arg(where.initiator)}")
        if where.initiator_uuid is not None:
            # The UUID is derived from the name (uuid5), so it is matched against the names there are.
            names = [n for n in await self.pool.fetchval("SELECT array_agg(DISTINCT initiator) FROM process_view") or []
                     if user_uuid(n) == str(where.initiator_uuid)]
            clauses.append(f"p.initiator = ANY({arg(names)}::text[])")
        if where.script is not None:
            clauses.append(f"coalesce(p.script, p.definition_key) = {arg(where.script)}")
        if where.since is not None:
            clauses.append(f"p.created_at >= {arg(where.since)}")
        if where.statuses is not None:
            clauses.append(f"p.status = ANY({arg(list(where.statuses))}::text[])")
        for keys, value in where.parameters:
            clauses.append(f"EXISTS (SELECT 1 FROM unnest({arg(sorted(keys))}::text[]) k WHERE p.parameters ->> k = {arg(value)})")
        condition = " AND ".join(clauses) or "true"
        total = await self.pool.fetchval(f"SELECT count(*) {_FROM} WHERE {condition}", *values)
        order = f"{SORTS[sort]} {'DESC' if descending else 'ASC'} NULLS LAST, p.instance_id"
        rows = await self.pool.fetch(
            f"{_ROW} WHERE {condition} ORDER BY {order} LIMIT {arg(size)} OFFSET {arg(number * size)}",
            *values,
        )
        return [ProcessSummary(**r) for r in rows], total
