"""The instance summary read model: one row per live instance, for lists and filters.

A single instance's full state (form data, history, asOf) is read by folding its own events;
this table answers the questions that span instances: by target, by definition, by status.
Its rows are folded a batch at a time (projections/rows.py).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from events.concord.program import PARENT_ATTRIBUTE, handler_due
from events.flows.graph import NodeKind
from events.instance import ProcessInstance as I
from events.instance_state import InstanceStatus as S, deadline_of
from projections.base import Projection
from projections.rows import Rows

Row = dict[str, Any] | None

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
    ended_at timestamptz,
    deadline timestamptz,
    handlers jsonb NOT NULL DEFAULT '[]',
    handler_due text,
    parent_id uuid
);
-- Added after the first release: a Concord processTimeout's deadline, for the scheduler to enforce.
ALTER TABLE instance_view ADD COLUMN IF NOT EXISTS deadline timestamptz;
-- And the Concord handler flow (onFailure, onCancel, onTimeout) a process that ended badly starts.
ALTER TABLE instance_view ADD COLUMN IF NOT EXISTS handlers jsonb NOT NULL DEFAULT '[]';
ALTER TABLE instance_view ADD COLUMN IF NOT EXISTS handler_due text;
CREATE INDEX IF NOT EXISTS instance_view_handler_due ON instance_view (ended_at) WHERE handler_due IS NOT NULL;
-- And the process a handler's process was started for (Concord's subprocesses).
ALTER TABLE instance_view ADD COLUMN IF NOT EXISTS parent_id uuid;
CREATE INDEX IF NOT EXISTS instance_view_parent ON instance_view (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS instance_view_deadline ON instance_view (deadline) WHERE deadline IS NOT NULL AND ended_at IS NULL;
CREATE INDEX IF NOT EXISTS instance_view_target ON instance_view (target_id, created_at);
CREATE INDEX IF NOT EXISTS instance_view_definition ON instance_view (definition_key, created_at);
"""


COLUMNS = (
    "instance_id", "definition_id", "definition_key", "definition_version", "status", "current_element",
    "permitted_triggers", "initiator", "owner", "target_id", "assignment", "aggregate_version", "created_at",
    "started_at", "updated_at", "ended_at", "deadline", "handlers", "handler_due", "parent_id",
)


def _touch(row: Row, e: Any, **changes: Any) -> Row:
    if row is None:
        return None  # no row to update (as an UPDATE of a missing row changes nothing)
    return {**row, "aggregate_version": e.originator_version, "updated_at": e.timestamp, **changes}


def created(_row: Row, e: I.Created, _position: int) -> Row:
    return {
        "instance_id": e.originator_id, "definition_id": e.definition_id, "definition_key": e.definition_key,
        "definition_version": e.definition_version, "status": S.CREATED.value, "current_element": None,
        "permitted_triggers": [], "initiator": e.initiator, "owner": e.owner, "target_id": e.target_id,
        "assignment": e.assignment, "aggregate_version": e.originator_version, "created_at": e.timestamp,
        "started_at": None, "updated_at": e.timestamp, "ended_at": None, "deadline": None,
        "handlers": [], "handler_due": None, "parent_id": _uuid((e.attributes or {}).get(PARENT_ATTRIBUTE)),
    }


def _uuid(value: Any) -> UUID | None:
    try:
        return UUID(str(value)) if value else None
    except ValueError:
        return None


def scheduled(row: Row, e: I.Scheduled, _position: int) -> Row:
    return _touch(row, e, status=S.SCHEDULED.value)


def started(row: Row, e: I.Started, _position: int) -> Row:
    return _touch(row, e, status=S.RUNNING.value, started_at=e.timestamp, current_element=e.start_event)


def task_started(row: Row, e: I.TaskStarted, _position: int) -> Row:
    status = S.RUNNING if e.kind == NodeKind.SERVICE_TASK else S.WAITING
    row = _touch(row, e, status=status.value, current_element=e.element_id, permitted_triggers=e.triggers)
    if row is not None and e.assignment is not None:
        row["assignment"] = e.assignment
    return row


def ended(row: Row, e: I.Ended, _position: int) -> Row:
    return _touch(row, e, status=S.COMPLETED.value, current_element=e.end_event, permitted_triggers=[],
                  ended_at=e.timestamp)


def flow_started(row: Row, e: I.FlowStarted, _position: int) -> Row:
    return _touch(row, e, deadline=deadline_of(e.timestamp, e.timeout_seconds), handlers=list(e.handlers or []))


def assignment_changed(row: Row, e: I.AssignmentChanged, _position: int) -> Row:
    return _touch(row, e, assignment=e.assignment)


def _finished(status: S) -> Any:
    def fold(row: Row, e: Any, _position: int) -> Row:
        if row is None:
            return None
        due = handler_due(row.get("handlers") or [], status.value, getattr(e, "reason", None))
        return _touch(row, e, status=status.value, ended_at=e.timestamp, permitted_triggers=[], handler_due=due)
    return fold


def touched(row: Row, e: Any, _position: int) -> Row:
    return _touch(row, e)


def deleted(_row: Row, _e: I.Deleted, _position: int) -> Row:
    return None


PROJECTION = Projection(
    name="instances",
    schema=SCHEMA,
    tables=("instance_view",),
    handlers={},
    rows=Rows("instance_view", "instance_id", COLUMNS, {
        I.Created: created,
        I.Scheduled: scheduled,
        I.Started: started,
        I.TaskStarted: task_started,
        I.Ended: ended,
        I.AssignmentChanged: assignment_changed,
        I.FlowStarted: flow_started,
        I.Stopped: _finished(S.STOPPED),
        I.Failed: _finished(S.FAILED),
        I.Deleted: deleted,
        **{cls: touched for cls in (
            I.TaskEnded, I.TaskAbandoned, I.TokenForked, I.TokenArrived, I.TokensJoined, I.TokenEnded, I.FormDataSubmitted, I.DocumentAttached, I.StopRequested,
            I.AutomatedTaskRequested, I.AutomatedTaskCompleted, I.AutomatedTaskFailed, I.OutputAppended, I.FileAttached,
            I.FlowStepStarted, I.FlowStepEnded, I.VariablesSet, I.FlowPaused, I.FormWaiting, I.FormSubmitted,
        )},
    }),
)
