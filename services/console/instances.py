"""`procession instances`: list, show, history, cancel, retry (the same services as the HTTP faces)."""

from __future__ import annotations

import argparse
import uuid
from datetime import datetime
from typing import Any

from events.errors import NotFound
from events.instance_state import InstanceStatus
from services.bootstrap import Runtime
from services.console.common import operator, run
from services.scripts.commands import RetryProcess, StopProcess
from services.scripts.queries import ProcessFilter

LOG_LINES = 10
HISTORY_BATCH = 500


def _id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound(f"no instance {raw[:64]!r}") from None


async def _list(rt: Runtime, args: argparse.Namespace) -> list[dict[str, Any]]:
    where = ProcessFilter(initiator=args.user, script=args.definition,
                          statuses=tuple(args.status) if args.status else None, since=args.since)
    rows, _ = await rt.process_views.page(where, sort="creationTime", descending=True, number=0, size=args.limit)
    return [{"id": str(r.instance_id), "definition": r.definition_key, "script": r.script,
             "status": r.status, "user": r.initiator, "created": r.created_at, "ended": r.ended_at}
            for r in rows]


async def _show(rt: Runtime, args: argparse.Namespace) -> dict[str, Any]:
    instance = await rt.instances.get(_id(args.id))
    lines = await rt.output.output_lines(instance.id)
    return {
        "id": str(instance.id), "definition": f"{instance.definition_key} v{instance.definition_version}",
        "status": str(instance.status), "current_task": instance.current_task, "failure": instance.failure,
        "user": instance.initiator, "parameters": instance.parameters,
        "started": instance.started_at, "ended": instance.ended_at,
        "log": [f"{line['time']} {line['stream']} {line['line']}" for line in lines[-LOG_LINES:]],
    }


async def _history(rt: Runtime, args: argparse.Namespace) -> list[dict[str, Any]]:
    uid, events, after = _id(args.id), [], 0
    while batch := await rt.audit.aggregate_lines(uid, after, HISTORY_BATCH):
        events += batch
        after = batch[-1]["originator_version"]
    if not events:
        raise NotFound(f"no instance {args.id!r}")
    if args.format == "json":
        return events
    return [{"version": e["originator_version"], "type": e["type"], "recorded": e["recorded_at"],
             "position": e["position"]} for e in events]


async def _cancel(rt: Runtime, args: argparse.Namespace) -> dict[str, Any]:
    # The stop itself decides again when a running script's output got in first.
    answer = await rt.scripts.stop(operator(), StopProcess(str(_id(args.id))))
    return {"id": answer.id, "status": answer.status}


async def _retry(rt: Runtime, args: argparse.Namespace) -> dict[str, Any]:
    failed = str(_id(args.id))
    answer = await rt.scripts.retry(operator(), RetryProcess(failed))
    return {"id": answer.id, "status": answer.status, "retry_of": failed}


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `instances ...` to the command line."""
    group = commands.add_parser("instances", help="process instances (runs)")
    actions = group.add_subparsers(dest="action", required=True)

    listing = actions.add_parser("list", parents=[common], help="instances, newest first")
    listing.add_argument("--status", action="append", choices=[s.value for s in InstanceStatus],
                         help="only this status (repeatable)")
    listing.add_argument("--definition", help="only runs of this definition (or script)")
    listing.add_argument("--user", help="only instances this user started")
    listing.add_argument("--since", type=datetime.fromisoformat, help="only instances created at or after (ISO 8601)")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    listing.set_defaults(func=lambda a: run(a, _list, columns=("id", "definition", "status", "user", "created", "ended")))

    show = actions.add_parser("show", parents=[common], help="status, current task and the last log lines")
    show.add_argument("id", help="the instance id")
    show.set_defaults(func=lambda a: run(a, _show))

    history = actions.add_parser("history", parents=[common], help="every event of the instance, in order")
    history.add_argument("id", help="the instance id")
    history.set_defaults(func=lambda a: run(a, _history, columns=("version", "type", "recorded", "position")))

    cancel = actions.add_parser("cancel", parents=[common], help="stop the instance (a running script is killed)")
    cancel.add_argument("id", help="the instance id")
    cancel.set_defaults(func=lambda a: run(a, _cancel))

    retry = actions.add_parser("retry", parents=[common],
                               help="run a failed script run again, as a new run with the same parameters and files")
    retry.add_argument("id", help="the failed instance's id")
    retry.set_defaults(func=lambda a: run(a, _retry))
