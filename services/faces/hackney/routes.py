"""The Hackney face ("Manage My Home" processes API): state-machine processes with triggers.

Choices where the document is thin or wrong (see docs/faces.md, Hackney):
- The trigger goes in the path (`PATCH …/{id}/{trigger}`, as the real API) or in the body
  (`trigger`, or `processTrigger`) of the document's bare `PATCH …/{id}`; both answer 204.
- `If-Match` is checked when sent and a mismatch is 409, as Hackney does; unlike Hackney, a
  missing `If-Match` is allowed (the document says nothing, and ETags are optional elsewhere).
- The document's sample sends `formData` as the string `"{}"`: a JSON object inside a string is
  accepted. Its `processName` wrapper object around the payload is not reproduced: the GET answers
  the process itself, as the real API does. `processStates` lists every state oldest first and
  ends with the current one, as the document's payload shows; `previousStates` (the real code's
  name) lists only the states left.
- Each state's `processData` carries `targetId` (the document's payload; the top-level `targetId`
  stays) and `documents` is null when none were attached, as the document shows. A PATCH may echo
  a state's `processData` back: its `targetId` is read-only (the same value or none is accepted,
  another is 422).
- `GET …/{id}/` with the document's trailing slash answers like `GET …/{id}` (on every face, one
  trailing slash on a GET route is tolerated: services/http/trailing_slash.py).
- Paging: `pageSize` 1..100 (default 10) returns exactly that many while more exist, with
  `nextToken` for the rest; past 100 (or below 1) is 400, never a silently shorter page.
- Form data and documents sent with a trigger are recorded before it fires, so the state's exit
  rules see them; an assignment sent with a trigger applies to the state entered. Each state's
  `processData` is the process's data as it stood when the state was left (or now, for the current).
- A refused trigger changes nothing: not permitted is 400 "Cannot trigger X from state Y"; its
  exit rules failing is 409 with each problem.
- `example-application` (the document's example) is created when first started if absent.

Route sharing (docs/faces.md): the two start routes are shared with Concord and told apart in
`services/faces/dispatch.py`; this face answers their JSON requests. The
`{id}` segment of the two-segment routes refuses Concord's literal `log`, `attachment`,
`waitForCompletion`, `form` and `resume` (a regex), so registration order does not matter; Concord's one-segment
`GET /api/v1/process/{id}` is not registered here.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from contracts.hackney import HackneyStartBodyIn, HackneyPage, HackneyProcess, HackneyStartIn, HackneyUpdateIn
from events.errors import NotFound, StaleVersion
from events.instance import ProcessInstance
from events.instance_state import Visit
from services.definitions.examples import EXAMPLE_KEY, ensure_example_application
from services.common.times import iso_z
from services.http.body import read_model
from services.http.context import request_context
from services.http.headers import json_response
from services.http.params import integer
from services.http.problems import ProblemError
from services.http.routes import Route
from services.instances.commands import CreateInstance, UpdateInstance

BASE = "/api/v1/process"
_ID = "{id:(?!(?:log|attachment|waitForCompletion|form|resume|subprocess)(?:/|$))[^/]+}"
_PAGE_SIZE = 10
_MAX_PAGE_SIZE = 100


def _process_data(instance: ProcessInstance, form_data: dict[str, Any], documents: list[str]) -> dict[str, Any]:
    # The document's payload: targetId inside processData too, and documents null when none were attached.
    return {"targetId": instance.target_id, "formData": form_data, "documents": list(documents) or None}


def _state(visit: Visit | None, instance: ProcessInstance, *, current: bool) -> dict[str, Any]:
    if visit is None:  # created, not started: Hackney has no such state, so show the status
        return {"state": str(instance.status), "permittedTriggers": [], "assignment": instance.assignment,
                "processData": _process_data(instance, instance.form_data, instance.documents),
                "createdAt": iso_z(instance.created_on), "updatedAt": iso_z(instance.modified_on)}
    data = (instance.form_data, instance.documents, instance.assignment) if current else (visit.form_data, visit.documents, visit.assignment)
    return {
        "state": visit.element_id,
        "permittedTriggers": list(instance.triggers) if current else list(visit.triggers),
        "assignment": data[2],
        "processData": _process_data(instance, data[0], data[1]),
        "createdAt": iso_z(visit.started),
        "updatedAt": iso_z(instance.modified_on if current else visit.ended),
    }


def render(instance: ProcessInstance) -> dict[str, Any]:
    """An instance in the Hackney document's payload shape."""
    states = [v for v in instance.visits if v.kind != "start"]
    current = states[-1] if states else None
    previous = [_state(v, instance, current=False) for v in states[:-1]]
    now = _state(current, instance, current=True)
    return {
        "id": str(instance.id),
        "targetId": instance.target_id,
        "targetType": instance.attributes.get("targetType"),
        "relatedEntities": instance.attributes.get("relatedEntities", []),
        "processName": instance.definition_key,
        "currentState": now,
        "previousStates": previous,
        # The document's processStates ends with the current state; previousStates (the code's) does not.
        "processStates": [*previous, now],
        "versionNumber": instance.version,
    }


async def _start(request: web.Request, name: str, body: HackneyStartIn) -> web.Response:
    ctx = request_context(request)
    if name == EXAMPLE_KEY:
        await ensure_example_application(ctx.runtime.definitions)
    attributes = {"targetType": body.targetType, "relatedEntities": [e.model_dump(exclude_none=True) for e in body.relatedEntities]}
    command = CreateInstance(
        name, target_id=body.targetId, parameters=body.arguments, form_data=body.formData,
        documents=tuple(body.documents), assignment=body.assignment, attributes=attributes,
    )
    result = await ctx.runtime.instances.create(ctx.principal, command, ctx.idempotency_key)
    location = {"Location": f"{BASE}/{name}/{result.id}"}
    return json_response({"id": result.id, "instanceId": result.id, "ok": True}, status=201, etag=result.etag, headers=location)


async def start_from_body(request: web.Request) -> web.Response:
    """`POST /api/v1/process` with JSON naming `processName`."""
    body = await read_model(request, HackneyStartBodyIn)
    return await _start(request, body.processName, body)


async def start_named(request: web.Request) -> web.Response:
    """`POST /api/v1/process/{processName}`."""
    return await _start(request, request.match_info["processName"], await read_model(request, HackneyStartIn))


async def _instance_named(request: web.Request, *, past: bool = False) -> ProcessInstance:
    ctx = request_context(request)
    moment = ctx.as_of if past else None
    instance = await ctx.runtime.instances.visible(
        ctx.principal, ctx.match("id"), version=moment and moment.version, until=moment and moment.moment
    )
    if instance.definition_key != ctx.match("processName"):
        raise NotFound(f"no {ctx.match('processName')} process {ctx.match('id')}")
    return instance


async def get_process(request: web.Request) -> web.Response:
    """`GET /api/v1/process/{processName}/{id}` (with ETag; `asOf` for how it was)."""
    instance = await _instance_named(request, past=True)
    return json_response(render(instance), etag=instance.version)


async def update_process(request: web.Request) -> web.Response:
    """`PATCH …/{id}[/{trigger}]`: data, documents, assignment and an optional trigger."""
    ctx, body = request_context(request), await read_model(request, HackneyUpdateIn)
    instance = await _instance_named(request)
    data = body.processData
    if data and data.targetId is not None and data.targetId != instance.target_id:
        # processData.targetId is shown for the client's sake; echoing it back is fine, changing it is not.
        raise ProblemError(422, "processData.targetId cannot change", title="Invalid input",
                           errors=[f"processData.targetId: the process's target is {instance.target_id!r}"])
    command = UpdateInstance(
        str(instance.id),
        trigger=request.match_info.get("trigger") or body.trigger or body.processTrigger,
        form_data={**((data.formData or {}) if data else {}), **(body.formData or {})},
        documents=(*((data.documents or []) if data else []), *(body.documents or [])),
        assignment=body.assignment,
        if_match=ctx.if_match,
    )
    try:
        result = await ctx.runtime.instances.update(ctx.principal, command, ctx.idempotency_key)
    except StaleVersion as e:  # Hackney answers a stale If-Match with 409, not 412
        raise ProblemError(409, e.detail, title="Conflict") from None
    response = web.Response(status=204)
    response.headers["ETag"] = f'"{result.etag}"'
    return response


async def list_processes(request: web.Request) -> web.Response:
    """`GET /api/v1/process?targetId=&pageSize=&paginationToken=`."""
    ctx = request_context(request)
    # An empty value means the default here, as Hackney's own list reads it.
    size = integer(request.query.get("pageSize") or None, "pageSize", default=_PAGE_SIZE, minimum=1, maximum=_MAX_PAGE_SIZE)
    offset = integer(request.query.get("paginationToken") or None, "paginationToken", default=0, maximum=999_999_999)
    target = request.query.get("targetId") or None
    ids = await ctx.runtime.instance_views.by_target(ctx.principal, target, limit=size + 1, offset=offset)
    page = [render(await ctx.runtime.instances.get(i)) for i in ids[:size]]
    token = str(offset + size) if len(ids) > size else None
    return json_response({"results": page, "paginationDetails": {"nextToken": token}})


_ERRORS = (400, 404, 409, 415, 422)
# What the body's schema cannot say: what the process's current state permits.
_UPDATE_RULES = (
    "A trigger (in the path, or the body's `trigger` or `processTrigger`) must be one the current state permits "
    "(else 400 \"Cannot trigger X from state Y\"), and leaving the state must meet its exit rules (409). "
    "`processData.targetId`, when sent, is the process's own target (else 422)."
)
ROUTES = [
    Route("GET", BASE, list_processes, "Processes of a target (targetId, pageSize, paginationToken)", "hackney",
          response=HackneyPage, errors=(400,), query=("targetId", "pageSize", "paginationToken")),
    Route("GET", f"{BASE}/{{processName}}/{_ID}", get_process, "A process with its current and previous states",
          "hackney", response=HackneyProcess, errors=(400, 404), query=("asOf",)),
    Route("PATCH", f"{BASE}/{{processName}}/{_ID}", update_process, "Update a process; fire the body's trigger if any",
          "hackney", body=HackneyUpdateIn, status=204, errors=_ERRORS, description=_UPDATE_RULES),
    Route("PATCH", f"{BASE}/{{processName}}/{_ID}/{{trigger}}", update_process, "Fire a trigger with data",
          "hackney", body=HackneyUpdateIn, status=204, errors=_ERRORS, description=_UPDATE_RULES),
]
