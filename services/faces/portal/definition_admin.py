"""One definition's history and care: tag moves and removals, roll back (admins), the diff, the schedule."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import orjson
from aiohttp import web

from events.cron import CronError, parse_cron
from events.definition import LATEST
from services.definitions.commands import RemoveVersion, TagVersion, UntagVersion
from services.faces.portal.access import who
from services.faces.portal.security import Refused
from services.http.app_keys import RUNTIME
from services.scheduling.cron_words import describe, next_fires

_MAX_DIFF_LINES = 2000


@dataclass(frozen=True)
class DiffLine:
    """One line of a unified diff: `add`, `del`, `ctx` or `hunk`, and its text (escaped when rendered)."""

    kind: str
    text: str


@dataclass(frozen=True)
class Schedule:
    """A definition's cron: the expression, in words, and the next fires (UTC); or why it is invalid."""

    expression: str
    words: str
    fires: list[datetime]
    error: str = ""
    enabled: bool = True


def _pretty(configuration: dict[str, Any]) -> list[str]:
    return orjson.dumps(configuration, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode().splitlines()


def diff_lines(old: dict[str, Any], new: dict[str, Any], old_name: str, new_name: str) -> list[DiffLine]:
    """The unified diff of two configurations, pretty-printed with sorted keys (empty when equal)."""
    lines = []
    for text in difflib.unified_diff(_pretty(old), _pretty(new), old_name, new_name, lineterm="", n=3):
        kind = ("hunk" if text.startswith("@@") else "head" if text.startswith(("---", "+++"))
                else "add" if text.startswith("+") else "del" if text.startswith("-") else "ctx")
        lines.append(DiffLine(kind, text))
        if len(lines) == _MAX_DIFF_LINES:
            lines.append(DiffLine("hunk", f"… (the diff is longer than {_MAX_DIFF_LINES} lines)"))
            break
    return lines


async def diff(request: web.Request, key: str) -> dict[str, Any] | None:
    """The diff asked for by `?from=&to=` (versions or tags), or None when none is asked for."""
    old, new = request.query.get("from", ""), request.query.get("to", "")
    if not old or not new:
        return None
    views = request.app[RUNTIME].definition_views
    before, _ = await views.version(key, old)
    after, _ = await views.version(key, new)
    lines = diff_lines(before.configuration, after.configuration, f"version {before.version}", f"version {after.version}")
    return {"from": before.version, "to": after.version, "lines": lines}


def schedule(configuration: dict[str, Any], now: datetime | None = None) -> Schedule | None:
    """The schedule of a configuration with a `cron` (None without one)."""
    expression = configuration.get("cron")
    if not isinstance(expression, str):
        return None
    enabled = configuration.get("enabled", True) not in (False, "false")
    try:
        parsed = parse_cron(expression)
    except CronError as e:
        return Schedule(expression, expression, [], e.message, enabled)
    return Schedule(expression, describe(parsed), next_fires(parsed, now or datetime.now(UTC)), "", enabled)


def _admin(request: web.Request) -> None:
    if not who(request).is_admin:
        raise Refused(403, "Only an admin may change a definition's versions and tags.")


def _back(key: str, note: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/ui/definitions/{quote(key, safe='')}?done={note}")


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    if not isinstance(value, str) or not value.strip():
        raise Refused(400, f"{name} is required")
    return value.strip()


async def tag(request: web.Request) -> web.StreamResponse:
    """`POST /ui/definitions/{key}/tag` (tag, version): put a tag on a version, moving it from another."""
    _admin(request)
    key, form = request.match_info["key"], await request.post()
    await request.app[RUNTIME].definitions.tag(who(request), TagVersion(key, _text(form, "version"), _text(form, "tag")))
    raise _back(key, "tagged")


async def untag(request: web.Request) -> web.StreamResponse:
    """`POST /ui/definitions/{key}/untag` (tag): remove a tag, keeping its version."""
    _admin(request)
    key, form = request.match_info["key"], await request.post()
    await request.app[RUNTIME].definitions.untag(who(request), UntagVersion(key, _text(form, "tag")))
    raise _back(key, "untagged")


async def rollback(request: web.Request) -> web.StreamResponse:
    """`POST /ui/definitions/{key}/rollback`: remove the newest version (never the only one)."""
    _admin(request)
    key = request.match_info["key"]
    runtime = request.app[RUNTIME]
    if len(await runtime.definition_views.versions(key)) < 2:
        raise Refused(409, f"{key} has one version: nothing to roll back to.")
    await runtime.definitions.remove_version(who(request), RemoveVersion(key, LATEST))
    raise _back(key, "rolled-back")
