"""The audit face: the global event log and each aggregate's stream, as NDJSON and live SSE,
plus the published-event contracts (AsyncAPI and JSON Schemas). Feeds are admin only."""

from __future__ import annotations

from importlib import metadata
from typing import Any
from uuid import UUID

import orjson
from aiohttp import web

from contracts.audit import StoredEventLine
from contracts.published import PUBLISHED, asyncapi_document, event_schema
from services.audit.log import aggregate_id
from services.http import sse
from services.http.context import request_context
from services.http.headers import json_response
from services.http.problems import ProblemError
from services.http.routes import Route

NDJSON = "application/x-ndjson"
MAX_LIMIT = 10_000
MAX_POSITION = 2**63 - 1  # a bigint


def _ndjson(lines: list[dict[str, Any]]) -> web.Response:
    body = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    return web.Response(body=body, content_type=NDJSON)


def _item(ident: int, line: dict[str, Any]) -> sse.Item:
    return ident, line["type"], orjson.dumps(line)


def _aggregate(request: web.Request) -> UUID:
    try:
        return aggregate_id(request.match_info["aggregate_id"])
    except ValueError:
        raise ProblemError(404, "no aggregate with that id") from None


def _page(request: web.Request) -> tuple[int, int]:
    ctx = request_context(request)
    return ctx.integer("after", default=0, maximum=MAX_POSITION), ctx.integer("limit", default=1000, maximum=MAX_LIMIT)


async def events_feed(request: web.Request) -> web.Response:
    after, limit = _page(request)
    return _ndjson(await request_context(request).runtime.audit.lines_after(after, limit))


async def events_stream(request: web.Request) -> web.StreamResponse:
    audit = request_context(request).runtime.audit

    async def fetch(after: int) -> list[sse.Item]:
        return [_item(line["position"], line) for line in await audit.lines_after(after)]

    return await sse.stream(request, audit.append_signal, sse.resume_point(request), fetch)


async def aggregate_feed(request: web.Request) -> web.Response:
    after, limit = _page(request)
    return _ndjson(await request_context(request).runtime.audit.aggregate_lines(_aggregate(request), after, limit))


async def aggregate_stream(request: web.Request) -> web.StreamResponse:
    audit, ident = request_context(request).runtime.audit, _aggregate(request)

    async def fetch(after: int) -> list[sse.Item]:
        return [_item(line["originator_version"], line) for line in await audit.aggregate_lines(ident, after)]

    return await sse.stream(request, audit.append_signal, sse.resume_point(request), fetch)


async def asyncapi(request: web.Request) -> web.Response:
    settings = request_context(request).runtime.settings
    return json_response(asyncapi_document(settings.kafka_topic_prefix, metadata.version("procession")))


async def event_type_schema(request: web.Request) -> web.Response:
    name = request.match_info["event_type"].removeprefix("procession.")
    if name not in PUBLISHED:
        raise ProblemError(404, f"no published event type {name!r}")
    return json_response(event_schema(name))


_LINE = list[StoredEventLine]
_AFTER = ("after", {"type": "integer", "minimum": 0, "maximum": MAX_POSITION})
ROUTES = [
    Route("GET", "/api/v1/events", events_feed, "The global event log after a position, as NDJSON", "audit",
          role="admin", response=_LINE, response_media=NDJSON, errors=(400,), query=(_AFTER, "limit")),
    Route("GET", "/api/v1/events/stream", events_stream, "The global event log, live (SSE; resumes from Last-Event-ID)",
          "audit", role="admin", response={"type": "object"}, response_media="text/event-stream", errors=(400,)),
    Route("GET", "/api/v1/aggregates/{aggregate_id}/events", aggregate_feed,
          "One aggregate's events after a version, as NDJSON", "audit", role="admin", response=_LINE,
          response_media=NDJSON, errors=(400, 404), query=(_AFTER, "limit")),
    Route("GET", "/api/v1/aggregates/{aggregate_id}/events/stream", aggregate_stream,
          "One aggregate's events, live (SSE; resumes from Last-Event-ID)", "audit", role="admin",
          response={"type": "object"}, response_media="text/event-stream", errors=(400, 404)),
    Route("GET", "/api/asyncapi.json", asyncapi, "The AsyncAPI 3 document of the Kafka topics", "audit",
          role="public", response={"type": "object"}),
    Route("GET", "/api/schemas/events/{event_type}", event_type_schema,
          "The JSON Schema of one published event type", "audit", role="public", response={"type": "object"},
          errors=(404,)),
]
