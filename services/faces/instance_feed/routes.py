"""Every instance's own event feed, whatever face started it: JSON pages and a live SSE stream.

`GET /api/v1/instances/{id}/events?after=<version>` answers the events after an aggregate
version; `…/events/stream` sends them as server-sent events whose `id` is the version, so a
client that reconnects with `Last-Event-ID` resumes exactly after the last one it saw.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from services.http import sse
from services.http.headers import json_response
from services.http.problems import ProblemError
from services.http.routes import Route
from services.http.context import request_context

BASE = "/api/v1/instances/{id}/events"


def _entry(event: Any) -> dict[str, Any]:
    data = {k: v for k, v in vars(event).items() if k not in ("originator_id", "originator_version", "timestamp")}
    return {"version": event.originator_version, "type": type(event).__qualname__.split(".")[-1],
            "timestamp": event.timestamp.isoformat(), "data": data}


def _after(raw: str | None, name: str) -> int:
    if raw is None or raw == "":
        return 0
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise ProblemError(400, f"{name} must be an event version number, got {raw[:20]!r}")
    return int(raw)


async def _events_after(request: web.Request, after: int) -> list[dict[str, Any]]:
    instances = request_context(request).runtime.instances
    return [_entry(e) for e in await instances.events(request.match_info["id"], after, 10_000)]


async def list_events(request: web.Request) -> web.Response:
    """The instance's events after `?after=` (a version), oldest first."""
    return json_response(await _events_after(request, _after(request.query.get("after"), "after")))


async def stream_events(request: web.Request) -> web.StreamResponse:
    """The instance's events as they happen (text/event-stream), resuming after `Last-Event-ID`."""
    after = _after(request.headers.get("Last-Event-ID") or request.query.get("after"), "Last-Event-ID")
    runtime = request_context(request).runtime
    instance = await runtime.instances.get(request.match_info["id"])  # 404 before the stream opens

    async def fetch(version: int) -> list[sse.Item]:
        entries = [_entry(e) for e in await runtime.instances.events(instance.id, version, 500)]
        return [(e["version"], e["type"], orjson.dumps(e)) for e in entries]

    return await sse.stream(request, runtime.instances.append_signal, after, fetch)


ROUTES = [
    Route("GET", BASE, list_events, "An instance's events after a version (any face)", "instances",
          errors=(400, 404), query=("after",)),
    Route("GET", BASE + "/stream", stream_events, "An instance's events, live (server-sent events)", "instances",
          response_media="text/event-stream", response={"type": "string"}, errors=(400, 404), query=("after",)),
]
