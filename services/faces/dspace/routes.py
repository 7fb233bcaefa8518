"""The DSpace face: script processes (`/api/system/processes`) and the script catalogue.

Choices where the seed is thin, wrong or differs from DSpace (see docs/faces.md, DSpace):
- Ids are UUIDs (the seed), not DSpace's integers. Each process carries the seed's fields
  (`processId`, `userId`, `startTime`, `status`) and DSpace's (`scriptName`, `creationTime`,
  `endTime`, `processStatus`). `status` is the document's closed set RUNNING, STOPPED, FAILED,
  SCHEDULED (issue 9): a run that ended normally and one stopped by a user are both STOPPED;
  `processStatus` keeps DSpace 7's word (COMPLETED for a normal end). In filters COMPLETED is a
  synonym of STOPPED. A process waiting on a person (a flow started elsewhere) is RUNNING; one
  created but not started is SCHEDULED.
- `userId` is a UUID stable per user (uuid5 of a fixed namespace and the user name,
  `services/common/user_ids.py`); `userId=<uuid>` filters by it, a plain user name works too.
- Lists carry the document's top-level `"sort": {"by", "order"}` (the sort applied, the default
  `creationTime`/`desc` included).
- `_links.script` appears only when the process ran a registered script.
- A user sees only their own processes (the collection and both searches are filtered), an
  admin all (the one rule of every face: also those assigned to them or their teams); another
  user's process is 403, as DSpace documents (every other face answers 404). The collection takes the seed's `script`,
  `userId`, `status` and `parameter.<name>` filters; `sort=<field>,<asc|desc>` on script,
  startTime, endTime, creationTime, status or userId (one key; newest first by default).
  `page` >= 0 and 1 <= `size` (capped at 2000 silently, default 20), else 400.
- `/search/byProperty` needs one of userId, scriptName, processStatus (else 400, DSpace's
  message) and sorts on startTime, endTime or creationTime only.
- `/{id}/output` is the seed's JSON lines `[{time, line, stream}]` from the process's events,
  readable while it runs (DSpace only attaches a log at the end); `fromTime`/`toTime` are
  inclusive ISO-8601 bounds.
- `/{id}/files` lists input files (fileType "inputfile") and output files ("script_output");
  `/{id}/files/{name}` looks a file up by name (the seed), with Range (206/416), an ETag that
  is the file's SHA-256 and If-None-Match (304). Names are percent-encoded in `_links`; a name
  holding `/` is fetched as is or encoded (`docs/a.txt`, `docs%2Fa.txt`).
- `DELETE /{id}` stops the process first if it runs or is scheduled (the seed's promise; best
  effort), then tombstones it: 204.
- Invocation: every multipart text field other than `startTime` and `properties` is a
  parameter (`c`, `-c` and `--collection` name the same one), beside the `properties` JSON
  list; a parameter given twice (by any of its names) is 422. Parameters come back named as
  they were sent (a default the caller did not send: as the script declares it).
- `POST /api/system/scripts/{name}/processes`: unknown script 404 (before the media type is
  checked, as DSpace); not multipart 400 "Invalid mimetype"; `properties` not JSON 400; a
  bad, unknown or missing parameter, a duplicate file name or a file named but not sent 422
  (DSpace creates the process and fails it on CLI parse errors; we refuse before anything is
  stored); `startTime` in the future schedules the run (DSpace never built it). 202.
"""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import quote

from aiohttp import web

from contracts.dspace import ScriptInvocationForm
from events.errors import DomainError
from services.faces.dspace import render
from services.faces.dspace.form import read_invocation
from services.common.times import parse_moment
from services.common.user_ids import as_uuid
from services.http.context import request_context
from services.http.headers import json_response
from services.http.problems import ProblemError
from services.http.ranges import ranged_response
from services.http.routes import Route
from services.instances.access import may_see
from services.instances.commands import DeleteInstance
from services.scripts.commands import StartProcess, StopProcess
from services.scripts.queries import SORTS, ProcessFilter, ProcessSummary

P, S = render.PROCESSES, render.SCRIPTS
_ID = "{id:[^/]+}"
_DEFAULT_SIZE, _MAX_SIZE = 20, 2000
_SEARCH_SORTS = ("startTime", "endTime", "creationTime")


def _hal(body: Any, status: int = 200, **kw: Any) -> web.Response:
    response = json_response(body, status=status, **kw)
    response.content_type = "application/hal+json"
    return response


def _paging(request: web.Request) -> tuple[int, int]:
    ctx = request_context(request)
    number = ctx.integer("page", default=0, maximum=999_999_999)
    return number, min(ctx.integer("size", default=_DEFAULT_SIZE, minimum=1, maximum=999_999_999), _MAX_SIZE)


def _sort(request: web.Request, allowed: tuple[str, ...]) -> tuple[str, bool]:
    sorts = request.query.getall("sort", [])
    if not sorts:
        return "creationTime", True
    field, _, direction = sorts[0].partition(",")
    if len(sorts) > 1 or field not in allowed or direction.lower() not in ("", "asc", "desc"):
        raise ProblemError(400, "The given sort option was invalid", errors=[f"sort: one of {', '.join(allowed)}, then ,asc or ,desc"])
    return field, direction.lower() == "desc"


def _statuses(word: str | None) -> tuple[str, ...] | None:
    if word is None:
        return None
    if word.upper() not in render.WORDS:
        raise ProblemError(400, f"unknown status {word[:40]!r}", errors=[f"status: one of {', '.join(render.WORDS)}"])
    return render.WORDS[word.upper()]


async def _page(request: web.Request, where: ProcessFilter, allowed: tuple[str, ...]) -> web.Response:
    ctx = request_context(request)
    runtime, principal = ctx.runtime, ctx.principal
    where.visible_to = principal
    number, size = _paging(request)
    field, descending = _sort(request, allowed)
    rows, total = await runtime.process_views.page(where, sort=field, descending=descending, number=number, size=size)
    items = [render.process(r, runtime.registry) for r in rows]
    return _hal(render.page(request, "processes", items, number=number, size=size, total=total, sort=(field, descending)))


def _user(where: ProcessFilter, raw: str | None) -> ProcessFilter:
    # `userId` is the UUID this face shows (derived from the user name); a plain user name works too.
    if raw:
        uid = as_uuid(raw)
        if uid is None:
            where.initiator = raw
        else:
            where.initiator_uuid = uid
    return where


async def list_processes(request: web.Request) -> web.Response:
    """`GET /api/system/processes` with the seed's filters."""
    q, registry = request.query, request_context(request).runtime.registry
    where = _user(ProcessFilter(script=q.get("script"), statuses=_statuses(q.get("status"))), q.get("userId"))
    for name, value in q.items():
        if name.startswith("parameter.") and len(name) > len("parameter."):
            where.parameters.append((registry.keys_for(name.removeprefix("parameter.")), value))
    return await _page(request, where, tuple(SORTS))


async def search_by_property(request: web.Request) -> web.Response:
    """`GET …/search/byProperty?userId&scriptName&processStatus`."""
    q = request.query
    if not any(q.get(k) for k in ("userId", "scriptName", "processStatus")):
        raise ProblemError(400, "Either a name, user UUID or ProcessStatus should be provided")
    where = _user(ProcessFilter(script=q.get("scriptName") or None, statuses=_statuses(q.get("processStatus") or None)),
                  q.get("userId"))
    return await _page(request, where, _SEARCH_SORTS)


async def search_own(request: web.Request) -> web.Response:
    """`GET …/search/own`: the caller's processes."""
    return await _page(request, ProcessFilter(initiator=request_context(request).principal.user), _SEARCH_SORTS)


async def _row(request: web.Request) -> ProcessSummary:
    """The process named in the path, if the caller may see it: 404 / 403 otherwise."""
    ctx = request_context(request)
    row = await ctx.runtime.process_views.one(ctx.match("id"))
    if row is None:
        raise ProblemError(404, f"no process {ctx.match('id')[:80]!r}")
    if not may_see(ctx.principal, row.initiator, row.assignment):
        raise ProblemError(403, "this process belongs to another user")
    return row


async def get_process(request: web.Request) -> web.Response:
    """`GET /api/system/processes/{id}`."""
    return _hal(render.process(await _row(request), request_context(request).runtime.registry))


async def process_output(request: web.Request) -> web.Response:
    """`GET …/{id}/output`: console lines with their times, `fromTime`/`toTime` inclusive."""
    row = await _row(request)
    bounds = []
    for name in ("fromTime", "toTime"):
        raw = request.query.get(name)
        try:
            bounds.append(parse_moment(raw) if raw else None)
        except ValueError:
            raise ProblemError(400, f"{name} must be an ISO-8601 time, got {raw[:40]!r}") from None
    lines = await request_context(request).runtime.output.output_lines(row.instance_id, *bounds)
    return json_response([{"time": x["time"], "line": x["line"], "stream": x["stream"]} for x in lines])


async def _files(request: web.Request, row: ProcessSummary) -> list[dict[str, Any]]:
    output = request_context(request).runtime.output
    return [*await output.input_files(row.instance_id), *await output.output_files(row.instance_id)]


async def process_files(request: web.Request) -> web.Response:
    """`GET …/{id}/files`."""
    row = await _row(request)
    return _hal(render.files(str(row.instance_id), await _files(request, row)))


async def process_file(request: web.Request) -> web.StreamResponse:
    """`GET …/{id}/files/{name}`: the content, with Range and an ETag (its SHA-256)."""
    row = await _row(request)
    name = request.match_info["name"]
    info = next((f for f in reversed(await _files(request, row)) if f["name"] == name), None)
    if info is None:
        raise ProblemError(404, f"the process has no file {name[:80]!r}")
    etag = f'"{info["sha256"]}"'
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        return web.Response(status=304, headers={"ETag": etag})
    body = await request_context(request).runtime.blobs.read(info["sha256"])
    disposition = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}"}
    return ranged_response(request, body, content_type=info["mediaType"], etag=etag, headers=disposition)


async def delete_process(request: web.Request) -> web.Response:
    """`DELETE …/{id}`: stop it if it runs or waits to (best effort), then tombstone it."""
    row, ctx = await _row(request), request_context(request)
    runtime, principal, instance_id = ctx.runtime, ctx.principal, str(row.instance_id)
    if not row.finished:
        with contextlib.suppress(DomainError):
            await runtime.scripts.stop(principal, StopProcess(instance_id))
    await runtime.instances.delete(principal, DeleteInstance(instance_id, "deleted through DSpace"), ctx.idempotency_key)
    return web.Response(status=204)


async def list_scripts(request: web.Request) -> web.Response:
    """`GET /api/system/scripts`."""
    number, size = _paging(request)
    scripts = request_context(request).runtime.registry.all()
    items = [render.script(s) for s in scripts[number * size:(number + 1) * size]]
    return _hal(render.page(request, "scripts", items, number=number, size=size, total=len(scripts)))


async def get_script(request: web.Request) -> web.Response:
    """`GET /api/system/scripts/{name}`."""
    return _hal(render.script(request_context(request).runtime.registry.get(request.match_info["name"])))


async def start_process(request: web.Request) -> web.Response:
    """`POST /api/system/scripts/{name}/processes`: 202 with the process."""
    ctx = request_context(request)
    runtime, settings = ctx.runtime, ctx.runtime.settings
    script = runtime.registry.get(ctx.match("name"))
    invocation = await read_invocation(request, max_parts=settings.max_form_parts, max_bytes=settings.max_upload_bytes)
    command = StartProcess(script=script.name, arguments=invocation.arguments, files=invocation.files, start_at=invocation.start_at)
    started = await runtime.scripts.start(ctx.principal, command, ctx.idempotency_key)
    row = await runtime.process_views.one(started.id)
    body = render.process(row, runtime.registry)
    return _hal(body, status=202, headers={"Location": body["_links"]["self"]["href"]})


def _sort_parameter(fields: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    """`sort=<field>[,<asc|desc>]` as `_sort` reads it: the direction in any case, or left empty."""
    return "sort", {"type": "string", "pattern": f"^(?:{'|'.join(fields)})(?:,(?:[Aa][Ss][Cc]|[Dd][Ee][Ss][Cc])?)?$"}


# What the form's schema cannot say: which parameters are valid is each script's own declaration.
_INVOCATION_RULES = (
    "`name` must name a registered script (else 404). Every text part other than `properties` and `startTime`, and "
    "every item of `properties`, is a parameter that script declares, with a value of its type, each once, with "
    "every required one given (else 422); a file part's filename is unique and a file parameter names a sent file "
    "(422). Part names are text without control characters (an unreadable part header is 400)."
)
HAL = "application/hal+json"
_PROCESS = {"type": "object", "description": "A DSpace process (HAL)"}
_PAGE = {"type": "object", "description": "A HAL page"}
_LIST = ("page", "size", _sort_parameter(tuple(SORTS)))
_SEARCH_LIST = ("page", "size", _sort_parameter(_SEARCH_SORTS))
_STATUS = {"type": "string", "enum": list(render.WORDS), "description": "in any case"}
# byProperty's three filters as one exploded object (each is still its own query parameter on the
# wire), so that OpenAPI can say that one of them is needed; an empty one counts as absent.
_BY_PROPERTY = {
    "name": "property", "in": "query", "required": True, "style": "form", "explode": True,
    "description": "userId (a user's UUID or name), scriptName and processStatus, each sent as its own query "
                   "parameter: at least one of them, not empty (an empty one counts as absent)",
    "schema": {
        "type": "object",
        "properties": {"userId": {"type": "string"}, "scriptName": {"type": "string"},
                       "processStatus": {"anyOf": [_STATUS, {"const": ""}]}},
        "anyOf": [
            {"required": ["userId"], "properties": {"userId": {"minLength": 1}}},
            {"required": ["scriptName"], "properties": {"scriptName": {"minLength": 1}}},
            {"required": ["processStatus"], "properties": {"processStatus": _STATUS}},
        ],
    },
}
ROUTES = [
    Route("GET", P, list_processes, "Processes (yours; an admin's: all), filtered and paged", "dspace",
          response=_PAGE, response_media=HAL, errors=(400,), query=(*_LIST, "script", "userId", ("status", _STATUS), "parameter.<name>")),
    Route("GET", P + "/search/byProperty", search_by_property, "Processes by user, script or status", "dspace",
          response=_PAGE, response_media=HAL, errors=(400,), query=_SEARCH_LIST, parameters=(_BY_PROPERTY,)),
    Route("GET", P + "/search/own", search_own, "Your processes", "dspace", response=_PAGE, response_media=HAL, errors=(400,), query=_SEARCH_LIST),
    Route("GET", f"{P}/{_ID}", get_process, "A process", "dspace", response=_PROCESS, response_media=HAL, errors=(404,)),
    Route("DELETE", f"{P}/{_ID}", delete_process, "Stop a process if it runs, then delete it", "dspace",
          status=204, errors=(404,)),
    Route("GET", f"{P}/{_ID}/output", process_output, "Console output lines with times (fromTime, toTime)", "dspace",
          response={"type": "array", "items": {"type": "object"}}, errors=(400, 404), query=("fromTime", "toTime")),
    Route("GET", f"{P}/{_ID}/files", process_files, "A process's input and output files", "dspace",
          response=_PAGE, response_media=HAL, errors=(404,)),
    Route("GET", f"{P}/{_ID}/files/{{name:.+}}", process_file, "A file's content (Range, ETag)", "dspace",
          response={"type": "string", "format": "binary"}, response_media="application/octet-stream", errors=(404, 416)),
    Route("GET", S, list_scripts, "Registered scripts", "dspace", response=_PAGE, response_media=HAL, errors=(400,), query=("page", "size")),
    Route("GET", S + "/{name}", get_script, "A registered script with its parameters", "dspace",
          response=_PROCESS, response_media=HAL, errors=(404,)),
    Route("POST", S + "/{name}/processes", start_process, "Start a script (multipart: properties, file, startTime)",
          "dspace", body=ScriptInvocationForm, body_media="multipart/form-data", response=_PROCESS, response_media=HAL, status=202,
          errors=(400, 404, 413, 422), description=_INVOCATION_RULES),
]
