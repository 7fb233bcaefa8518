"""Every instance's own event feed, whatever face started it: JSON pages and a live SSE stream.

`GET /api/v1/instances/{id}/events?after=<version>` answers the events after an aggregate
version; `…/events/stream` sends them as server-sent events whose `id` is the version, so a
client that reconnects with `Last-Event-ID` resumes exactly after the last one it saw.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from events.errors import NotFound
from services.http import sse
from services.http.headers import json_response
from services.http.params import MAX_VERSION, integer
from services.http.routes import Route
from services.http.context import request_context

BASE = "/api/v1/instances/{id}/events"


def _entry(event: Any) -> dict[str, Any]:
    data = {k: v for k, v in vars(event).items() if k not in ("originator_id", "originator_version", "timestamp")}
    return {"version": event.originator_version, "type": type(event).__qualname__.split(".")[-1],
            "timestamp": event.timestamp.isoformat(), "data": data}


def _after(raw: str | None, name: str) -> int:
    return integer(raw or None, name, default=0, maximum=MAX_VERSION)  # empty: from the start


async def _events_after(request: web.Request, after: int) -> list[dict[str, Any]]:
    ctx = request_context(request)
    instance = await ctx.runtime.instances.visible(ctx.principal, ctx.match("id"))
    return [_entry(e) for e in await ctx.runtime.instances.events(instance.id, after, 10_000)]


async def list_events(request: web.Request) -> web.Response:
    """The instance's events after `?after=` (a version), oldest first."""
    return json_response(await _events_after(request, _after(request.query.get("after"), "after")))


async def stream_events(request: web.Request) -> web.StreamResponse:
    """The instance's events as they happen (text/event-stream), resuming after `Last-Event-ID`."""
    after = _after(request.headers.get("Last-Event-ID") or request.query.get("after"), "Last-Event-ID")
    ctx = request_context(request)
    runtime, who = ctx.runtime, ctx.principal
    instance = await runtime.instances.visible(who, ctx.match("id"))  # 404 before the stream opens

    async def fetch(version: int) -> list[sse.Item]:
        # Taken away (reassigned, deleted) while the stream is open: it ends, nothing more is sent.
        try:
            await runtime.instances.visible(who, instance.id)
        except NotFound:
            raise sse.StreamEnd from None
        entries = [_entry(e) for e in await runtime.instances.events(instance.id, version, 500)]
        return [(e["version"], e["type"], orjson.dumps(e)) for e in entries]

    return await sse.stream(request, runtime.instances.append_signal, after, fetch)


ROUTES = [
    Route("GET", BASE, list_events, "An instance's events after a version (any face)", "instances",
          errors=(400, 404), query=("after",)),
    Route("GET", BASE + "/stream", stream_events, "An instance's events, live (server-sent events)", "instances",
          response_media="text/event-stream", response={"type": "object"}, errors=(400, 404), query=("after",)),
]
