"""The process list read model: one row per live instance with what DSpace lists and filters by.

`script` is the registered script the instance runs (set at creation for script runs, or
when a flow first requests one); lists fall back to the definition key for pure workflows.
`scheduled_for` lets the scheduler find the instances due to start.
"""

from __future__ import annotations

from typing import Any

from events.flow import NodeKind
from events.instance import ProcessInstance as I
from events.instance_state import InstanceStatus as S
from projections.base import Projection

SCHEMA = """
CREATE TABLE IF NOT EXISTS process_view (
    instance_id uuid PRIMARY KEY,
    definition_key text NOT NULL,
    script text,
    initiator text NOT NULL,
    status text NOT NULL,
    parameters jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    scheduled_for timestamptz,
    started_at timestamptz,
    ended_at timestamptz
);
-- The parameter names as the caller sent them (canonical key -> name), for DSpace's rendering.
ALTER TABLE process_view ADD COLUMN IF NOT EXISTS parameter_names jsonb;
CREATE INDEX IF NOT EXISTS process_view_created ON process_view (created_at);
CREATE INDEX IF NOT EXISTS process_view_initiator ON process_view (initiator, created_at);
CREATE INDEX IF NOT EXISTS process_view_due ON process_view (scheduled_for) WHERE status = 'scheduled';
"""


async def _set(conn: Any, e: Any, sets: str, *values: Any) -> None:
    await conn.execute(f"UPDATE process_view SET {sets} WHERE instance_id = $1", e.originator_id, *values)


async def created(conn: Any, e: I.Created, _position: int) -> None:
    await conn.execute(
        "INSERT INTO process_view (instance_id, definition_key, script, initiator, status, parameters, created_at,"
        " parameter_names) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        e.originator_id, e.definition_key, e.attributes.get("script"), e.initiator, S.CREATED.value, e.parameters, e.timestamp,
        e.attributes.get("parameterNames"),
    )


async def scheduled(conn: Any, e: I.Scheduled, _position: int) -> None:
    await _set(conn, e, "status = $2, scheduled_for = $3", S.SCHEDULED.value, e.start_at)


async def started(conn: Any, e: I.Started, _position: int) -> None:
    await _set(conn, e, "status = $2, started_at = $3", S.RUNNING.value, e.timestamp)


async def task_started(conn: Any, e: I.TaskStarted, _position: int) -> None:
    await _set(conn, e, "status = $2", (S.RUNNING if e.kind == NodeKind.SERVICE_TASK else S.WAITING).value)


async def task_requested(conn: Any, e: I.AutomatedTaskRequested, _position: int) -> None:
    await _set(conn, e, "script = coalesce(script, $2)", e.script)


def _ended(status: S) -> Any:
    async def handler(conn: Any, e: Any, _position: int) -> None:
        await _set(conn, e, "status = $2, ended_at = $3", status.value, e.timestamp)
    return handler


async def deleted(conn: Any, e: I.Deleted, _position: int) -> None:
    await conn.execute("DELETE FROM process_view WHERE instance_id = $1", e.originator_id)


PROJECTION = Projection(
    name="script_processes",
    schema=SCHEMA,
    tables=("process_view",),
    handlers={
        I.Created: created,
        I.Scheduled: scheduled,
        I.Started: started,
        I.TaskStarted: task_started,
        I.AutomatedTaskRequested: task_requested,
        I.Ended: _ended(S.COMPLETED),
        I.Stopped: _ended(S.STOPPED),
        I.Failed: _ended(S.FAILED),
        I.Deleted: deleted,
    },
)
