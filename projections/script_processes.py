"""The process list read model: one row per live instance with what DSpace lists and filters by.

`script` is the registered script the instance runs (set at creation for script runs, or
when a flow first requests one); lists fall back to the definition key for pure workflows.
`scheduled_for` lets the scheduler find the instances due to start.
"""

from __future__ import annotations

from typing import Any

from events.flows.graph import NodeKind
from events.instance import ProcessInstance as I
from events.instance_state import InstanceStatus as S
from projections.base import Projection
from projections.rows import Rows

Row = dict[str, Any] | None

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


COLUMNS = ("instance_id", "definition_key", "script", "initiator", "status", "parameters", "created_at",
           "scheduled_for", "started_at", "ended_at", "parameter_names")


def _set(row: Row, **changes: Any) -> Row:
    return None if row is None else {**row, **changes}


def created(row: Row, e: I.Created, _position: int) -> Row:
    if row is not None:
        return row  # created once
    return {
        "instance_id": e.originator_id, "definition_key": e.definition_key, "script": e.attributes.get("script"),
        "initiator": e.initiator, "status": S.CREATED.value, "parameters": e.parameters, "created_at": e.timestamp,
        "scheduled_for": None, "started_at": None, "ended_at": None,
        "parameter_names": e.attributes.get("parameterNames"),
    }


def scheduled(row: Row, e: I.Scheduled, _position: int) -> Row:
    return _set(row, status=S.SCHEDULED.value, scheduled_for=e.start_at)


def started(row: Row, e: I.Started, _position: int) -> Row:
    return _set(row, status=S.RUNNING.value, started_at=e.timestamp)


def task_started(row: Row, e: I.TaskStarted, _position: int) -> Row:
    return _set(row, status=(S.RUNNING if e.kind == NodeKind.SERVICE_TASK else S.WAITING).value)


def task_requested(row: Row, e: I.AutomatedTaskRequested, _position: int) -> Row:
    return _set(row, script=row["script"] or e.script) if row is not None else None


def _ended(status: S) -> Any:
    def fold(row: Row, e: Any, _position: int) -> Row:
        return _set(row, status=status.value, ended_at=e.timestamp)
    return fold


def deleted(_row: Row, _e: I.Deleted, _position: int) -> Row:
    return None


PROJECTION = Projection(
    name="script_processes",
    schema=SCHEMA,
    tables=("process_view",),
    handlers={},
    rows=Rows("process_view", "instance_id", COLUMNS, {
        I.Created: created,
        I.Scheduled: scheduled,
        I.Started: started,
        I.TaskStarted: task_started,
        I.AutomatedTaskRequested: task_requested,
        I.Ended: _ended(S.COMPLETED),
        I.Stopped: _ended(S.STOPPED),
        I.Failed: _ended(S.FAILED),
        I.Deleted: deleted,
    }),
)
