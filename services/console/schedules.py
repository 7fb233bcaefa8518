"""`procession schedules`: list (next fire times), pause, resume, trigger."""

from __future__ import annotations

import argparse
import dataclasses
from datetime import UTC, datetime
from typing import Any

from events.errors import InvalidInput
from services.bootstrap import Runtime
from services.common.times import iso_z
from services.console.common import operator, run
from services.definitions.commands import SaveDefinition
from services.scripts.commands import StartProcess


async def _list(rt: Runtime, args: argparse.Namespace) -> list[dict[str, Any]]:
    return [dataclasses.asdict(s) for s in await rt.schedule_views.listing(datetime.now(UTC))]


async def _set_enabled(rt: Runtime, key: str, enabled: bool) -> dict[str, Any]:
    """A new version of the definition with `enabled` set: the scheduler reads the current version."""
    definition, _ = await rt.definitions.get(key)
    configuration = dict(definition.current.configuration)
    if not isinstance(configuration.get("cron"), str):
        raise InvalidInput(f"{key} has no cron schedule", ["cron: the definition has none"])
    configuration["enabled"] = enabled
    result = await rt.definitions.save(operator(), SaveDefinition(key, configuration))
    return {"key": key, "enabled": enabled, "version": result.current.version if result.current else None}


async def _pause(rt: Runtime, args: argparse.Namespace) -> dict[str, Any]:
    return await _set_enabled(rt, args.key, False)


async def _resume(rt: Runtime, args: argparse.Namespace) -> dict[str, Any]:
    return await _set_enabled(rt, args.key, True)


async def _trigger(rt: Runtime, args: argparse.Namespace) -> dict[str, Any]:
    now = datetime.now(UTC)
    answer = await rt.scripts.start(operator(), StartProcess(definition=args.key, attributes={"triggeredAt": iso_z(now)}))
    return {"key": args.key, "id": answer.id, "status": answer.status}


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `schedules ...` to the command line."""
    group = commands.add_parser("schedules", help="cron schedules of definitions")
    actions = group.add_subparsers(dest="action", required=True)

    listing = actions.add_parser("list", parents=[common], help="every schedule with its next fire time")
    listing.set_defaults(func=lambda a: run(a, _list, columns=("key", "cron", "enabled", "last_fire", "next_fire")))

    for name, action, text in (("pause", _pause, "stop firing (a new version with enabled: false)"),
                               ("resume", _resume, "fire again from now on (missed fires are not caught up)")):
        parser = actions.add_parser(name, parents=[common], help=text)
        parser.add_argument("key", help="the definition's key")
        parser.set_defaults(func=lambda a, act=action: run(a, act))

    trigger = actions.add_parser("trigger", parents=[common], help="start one run of the definition now")
    trigger.add_argument("key", help="the definition's key")
    trigger.set_defaults(func=lambda a: run(a, _trigger))
