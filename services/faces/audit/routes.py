"""The audit face: the global event log and each aggregate's stream, as NDJSON and live SSE,
plus the published-event contracts (AsyncAPI and JSON Schemas). Feeds are admin only."""

from __future__ import annotations

from importlib import metadata

import orjson
from aiohttp import web

from contracts.audit import StoredEventLine
from contracts.published import PUBLISHED, asyncapi_document, event_schema
from infra.event_store import RecordedEvent
from services.audit.log import aggregate_id, to_line
from services.http import sse
from services.http.headers import json_response
from services.http.problems import ProblemError
from services.http.routes import Route
from services.http.app_keys import RUNTIME

NDJSON = "application/x-ndjson"
MAX_LIMIT = 10_000


def _int_query(request: web.Request, name: str, default: int, maximum: int | None = None) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or (maximum is not None and int(raw) > maximum):
        bound = f" at most {maximum}" if maximum else ""
        raise ProblemError(400, f"{name} must be a non-negative integer{bound}, got {raw!r}")
    return int(raw)


def _ndjson(events: list[RecordedEvent]) -> web.Response:
    body = b"".join(orjson.dumps(to_line(e)) + b"\n" for e in events)
    return web.Response(body=body, content_type=NDJSON)


def _item(ident: int, event: RecordedEvent) -> sse.Item:
    line = to_line(event)
    return ident, line["type"], orjson.dumps(line)


def _aggregate(request: web.Request):
    try:
        return aggregate_id(request.match_info["aggregate_id"])
    except ValueError:
        raise ProblemError(404, "no aggregate with that id") from None


async def events_feed(request: web.Request) -> web.Response:
    store = request.app[RUNTIME].store
    after, limit = _int_query(request, "after", 0), _int_query(request, "limit", 1000, MAX_LIMIT)
    return _ndjson(await store.read_after(after, limit))


async def events_stream(request: web.Request) -> web.StreamResponse:
    store = request.app[RUNTIME].store

    async def fetch(after: int) -> list[sse.Item]:
        return [_item(e.position, e) for e in await store.read_after(after)]

    return await sse.stream(request, store, sse.resume_point(request), fetch)


async def aggregate_feed(request: web.Request) -> web.Response:
    store = request.app[RUNTIME].store
    after, limit = _int_query(request, "after", 0), _int_query(request, "limit", 1000, MAX_LIMIT)
    return _ndjson(await store.read_stream(_aggregate(request), after, limit))


async def aggregate_stream(request: web.Request) -> web.StreamResponse:
    store, ident = request.app[RUNTIME].store, _aggregate(request)

    async def fetch(after: int) -> list[sse.Item]:
        events = await store.read_stream(ident, after)
        return [_item(e.originator_version, e) for e in events]

    return await sse.stream(request, store, sse.resume_point(request), fetch)


async def asyncapi(request: web.Request) -> web.Response:
    settings = request.app[RUNTIME].settings
    return json_response(asyncapi_document(settings.kafka_topic_prefix, metadata.version("procession")))


async def event_type_schema(request: web.Request) -> web.Response:
    name = request.match_info["event_type"].removeprefix("procession.")
    if name not in PUBLISHED:
        raise ProblemError(404, f"no published event type {name!r}")
    return json_response(event_schema(name))


_LINE = list[StoredEventLine]
ROUTES = [
    Route("GET", "/api/v1/events", events_feed, "The global event log after a position, as NDJSON", "audit",
          role="admin", response=_LINE, response_media=NDJSON, errors=(400,), query=("after", "limit")),
    Route("GET", "/api/v1/events/stream", events_stream, "The global event log, live (SSE; resumes from Last-Event-ID)",
          "audit", role="admin", response={"type": "string"}, response_media="text/event-stream", errors=(400,)),
    Route("GET", "/api/v1/aggregates/{aggregate_id}/events", aggregate_feed,
          "One aggregate's events after a version, as NDJSON", "audit", role="admin", response=_LINE,
          response_media=NDJSON, errors=(400, 404), query=("after", "limit")),
    Route("GET", "/api/v1/aggregates/{aggregate_id}/events/stream", aggregate_stream,
          "One aggregate's events, live (SSE; resumes from Last-Event-ID)", "audit", role="admin",
          response={"type": "string"}, response_media="text/event-stream", errors=(400, 404)),
    Route("GET", "/api/asyncapi.json", asyncapi, "The AsyncAPI 3 document of the Kafka topics", "audit",
          role="public", response={"type": "object"}),
    Route("GET", "/api/schemas/events/{event_type}", event_type_schema,
          "The JSON Schema of one published event type", "audit", role="public", response={"type": "object"},
          errors=(404,)),
]
