"""The instance summary read model: one row per live instance, for lists and filters.

A single instance's full state (form data, history, asOf) is read by folding its own events;
this table answers the questions that span instances: by target, by definition, by status.
"""

from __future__ import annotations

from typing import Any

from events.flow import NodeKind
from events.instance import ProcessInstance as I
from events.instance_state import InstanceStatus as S
from projections.base import Projection

SCHEMA = """
CREATE TABLE IF NOT EXISTS instance_view (
    instance_id uuid PRIMARY KEY,
    definition_id uuid NOT NULL,
    definition_key text NOT NULL,
    definition_version int NOT NULL,
    status text NOT NULL,
    current_element text,
    permitted_triggers jsonb NOT NULL DEFAULT '[]',
    initiator text NOT NULL,
    owner text,
    target_id text,
    assignment jsonb NOT NULL DEFAULT '{}',
    aggregate_version bigint NOT NULL,
    created_at timestamptz NOT NULL,
    started_at timestamptz,
    updated_at timestamptz NOT NULL,
    ended_at timestamptz
);
CREATE INDEX IF NOT EXISTS instance_view_target ON instance_view (target_id, created_at);
CREATE INDEX IF NOT EXISTS instance_view_definition ON instance_view (definition_key, created_at);
"""


async def _touch(conn: Any, event: Any, sets: str = "", *values: Any) -> None:
    extra = f", {sets}" if sets else ""
    await conn.execute(
        f"UPDATE instance_view SET aggregate_version = $2, updated_at = $3{extra} WHERE instance_id = $1",
        event.originator_id, event.originator_version, event.timestamp, *values,
    )


async def created(conn: Any, e: I.Created, _position: int) -> None:
    await conn.execute(
        "INSERT INTO instance_view (instance_id, definition_id, definition_key, definition_version, status,"
        " initiator, owner, target_id, assignment, aggregate_version, created_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
        e.originator_id, e.definition_id, e.definition_key, e.definition_version, S.CREATED.value,
        e.initiator, e.owner, e.target_id, e.assignment, e.originator_version, e.timestamp,
    )


async def scheduled(conn: Any, e: I.Scheduled, _position: int) -> None:
    await _touch(conn, e, "status = $4", S.SCHEDULED.value)


async def started(conn: Any, e: I.Started, _position: int) -> None:
    await _touch(conn, e, "status = $4, started_at = $3, current_element = $5", S.RUNNING.value, e.start_event)


async def task_started(conn: Any, e: I.TaskStarted, _position: int) -> None:
    status = S.RUNNING if e.kind == NodeKind.SERVICE_TASK else S.WAITING
    await _touch(conn, e, "status = $4, current_element = $5, permitted_triggers = $6", status.value, e.element_id, e.triggers)
    if e.assignment is not None:
        await _touch(conn, e, "assignment = $4", e.assignment)


async def ended(conn: Any, e: I.Ended, _position: int) -> None:
    await _touch(conn, e, "status = $4, current_element = $5, permitted_triggers = '[]', ended_at = $3",
                 S.COMPLETED.value, e.end_event)


async def assignment_changed(conn: Any, e: I.AssignmentChanged, _position: int) -> None:
    await _touch(conn, e, "assignment = $4", e.assignment)


def _finished(status: S) -> Any:
    async def handler(conn: Any, e: Any, _position: int) -> None:
        await _touch(conn, e, "status = $4, ended_at = $3, permitted_triggers = '[]'", status.value)
    return handler


async def touched(conn: Any, e: Any, _position: int) -> None:
    await _touch(conn, e)


async def deleted(conn: Any, e: I.Deleted, _position: int) -> None:
    await conn.execute("DELETE FROM instance_view WHERE instance_id = $1", e.originator_id)


PROJECTION = Projection(
    name="instances",
    schema=SCHEMA,
    tables=("instance_view",),
    handlers={
        I.Created: created,
        I.Scheduled: scheduled,
        I.Started: started,
        I.TaskStarted: task_started,
        I.Ended: ended,
        I.AssignmentChanged: assignment_changed,
        I.Stopped: _finished(S.STOPPED),
        I.Failed: _finished(S.FAILED),
        I.Deleted: deleted,
        **{cls: touched for cls in (
            I.TaskEnded, I.TaskAbandoned, I.FormDataSubmitted, I.DocumentAttached, I.StopRequested,
            I.AutomatedTaskRequested, I.AutomatedTaskCompleted, I.AutomatedTaskFailed, I.OutputAppended, I.FileAttached,
            I.FlowStarted, I.FlowStepStarted, I.FlowStepEnded, I.VariablesSet, I.FlowPaused, I.FormWaiting, I.FormSubmitted,
        )},
    },
)
