"""The queue of automated tasks: one row per AutomatedTaskRequested, open until the task is over.

Workers claim open rows (claims live in `script_run_claims`, outside this rebuildable table)
and watch `stop_requested` to stop a running script.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from events.instance import ProcessInstance as I
from projections.base import Projection

SCHEMA = """
CREATE TABLE IF NOT EXISTS script_task_view (
    instance_id uuid NOT NULL,
    request_version bigint NOT NULL,
    element_id text NOT NULL,
    script text NOT NULL,
    parameters jsonb NOT NULL DEFAULT '{}',
    position bigint NOT NULL,
    requested_at timestamptz NOT NULL,
    stop_requested boolean NOT NULL DEFAULT false,
    open boolean NOT NULL DEFAULT true,
    not_before timestamptz,
    PRIMARY KEY (instance_id, request_version)
);
-- Added after the first release: when a retried run may start (a Concord retry's delay).
ALTER TABLE script_task_view ADD COLUMN IF NOT EXISTS not_before timestamptz;
CREATE INDEX IF NOT EXISTS script_task_view_open ON script_task_view (position) WHERE open;
"""


async def requested(conn: Any, e: I.AutomatedTaskRequested, position: int) -> None:
    await conn.execute(
        "INSERT INTO script_task_view (instance_id, request_version, element_id, script, parameters, position, requested_at,"
        " not_before) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        e.originator_id, e.originator_version, e.element_id, e.script, e.parameters, position, e.timestamp,
        e.timestamp + timedelta(seconds=e.delay_seconds) if e.delay_seconds else None,
    )


async def stop_requested(conn: Any, e: I.StopRequested, _position: int) -> None:
    await conn.execute("UPDATE script_task_view SET stop_requested = true WHERE instance_id = $1 AND open", e.originator_id)


async def closed(conn: Any, e: Any, _position: int) -> None:
    await conn.execute("UPDATE script_task_view SET open = false WHERE instance_id = $1 AND open", e.originator_id)


PROJECTION = Projection(
    name="script_tasks",
    schema=SCHEMA,
    tables=("script_task_view",),
    handlers={
        I.AutomatedTaskRequested: requested,
        I.StopRequested: stop_requested,
        **{cls: closed for cls in (I.AutomatedTaskCompleted, I.AutomatedTaskFailed, I.Stopped, I.Failed, I.Deleted)},
    },
)
