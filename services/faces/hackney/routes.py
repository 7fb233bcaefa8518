"""The Hackney face ("Manage My Home" processes API): state-machine processes with triggers.

Choices where the document is thin or wrong (see shared/design/seed-semantics.md, section D):
- The trigger goes in the path (`PATCH …/{id}/{trigger}`, as the real API) or in the body
  (`trigger`, or `processTrigger`) of the document's bare `PATCH …/{id}`; both answer 204.
- `If-Match` is checked when sent and a mismatch is 409, as Hackney does; unlike Hackney, a
  missing `If-Match` is allowed (the document says nothing, and ETags are optional elsewhere).
- The document's sample sends `formData` as the string `"{}"`: a JSON object inside a string is
  accepted. Its `processName` wrapper object around the payload is not reproduced: the GET answers
  the process itself, as the real API does. `processStates` (the document) and `previousStates`
  (the code) both list the states left, oldest first.
- Form data and documents sent with a trigger are recorded before it fires, so the state's exit
  rules see them; an assignment sent with a trigger applies to the state entered. Each state's
  `processData` is the process's data as it stood when the state was left (or now, for the current).
- A refused trigger changes nothing: not permitted is 400 "Cannot trigger X from state Y"; its
  exit rules failing is 409 with each problem.
- `example-application` (the document's example) is created when first started if absent.

Route sharing (faces.md): `POST /api/v1/process` with a non-JSON body belongs to Concord; it is
dispatched to whatever handler the app stores under `UPLOAD_START`, else answered 415; and
`POST /api/v1/process/{x}` where `x` holds a colon (a Concord entry point `project:repo:flow`,
which no definition key can be), or with Concord's `?sync=`, goes to the handler under
`ENTRY_POINT_START`. The
`{id}` segment of the two-segment routes refuses Concord's literal `log`, `attachment` and
`waitForCompletion` (a regex), so registration order does not matter; Concord's one-segment
`GET /api/v1/process/{id}` is not registered here.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from contracts.hackney import HackneyPage, HackneyProcess, HackneyStarted, HackneyStartIn, HackneyUpdateIn
from events.errors import NotFound, StaleVersion
from events.instance import ProcessInstance
from events.instance_state import Visit
from services.definitions.examples import EXAMPLE_KEY, ensure_example_application
from services.http.auth import principal_of
from services.http.body import is_json, read_model
from services.http.headers import as_of, idempotency_key, if_match, json_response
from services.http.problems import ProblemError
from services.http.routes import Handler, Route
from services.http.app_keys import RUNTIME

BASE = "/api/v1/process"
# Concord's ZIP/multipart start; set by the Concord face when it exists.
UPLOAD_START: web.AppKey[Handler] = web.AppKey("upload_start")
# Concord's start by entry point (`project:repository:flow`, with a colon no key can hold).
ENTRY_POINT_START: web.AppKey[Handler] = web.AppKey("entry_point_start")
_ID = "{id:(?!(?:log|attachment|waitForCompletion)(?:/|$))[^/]+}"
_PAGE_SIZE = 10


def _iso(moment: Any) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _state(visit: Visit | None, instance: ProcessInstance, *, current: bool) -> dict[str, Any]:
    if visit is None:  # created, not started: Hackney has no such state, so show the status
        return {"state": str(instance.status), "permittedTriggers": [], "assignment": instance.assignment,
                "processData": {"formData": instance.form_data, "documents": instance.documents},
                "createdAt": _iso(instance.created_on), "updatedAt": _iso(instance.modified_on)}
    data = (instance.form_data, instance.documents, instance.assignment) if current else (visit.form_data, visit.documents, visit.assignment)
    return {
        "state": visit.element_id,
        "permittedTriggers": list(instance.triggers) if current else list(visit.triggers),
        "assignment": data[2],
        "processData": {"formData": data[0], "documents": data[1]},
        "createdAt": _iso(visit.started),
        "updatedAt": _iso(instance.modified_on if current else visit.ended),
    }


def render(instance: ProcessInstance) -> dict[str, Any]:
    """An instance in the Hackney document's payload shape."""
    states = [v for v in instance.visits if v.kind != "start"]
    current = states[-1] if states else None
    previous = [_state(v, instance, current=False) for v in states[:-1]]
    return {
        "id": str(instance.id),
        "targetId": instance.target_id,
        "targetType": instance.attributes.get("targetType"),
        "relatedEntities": instance.attributes.get("relatedEntities", []),
        "processName": instance.definition_key,
        "currentState": _state(current, instance, current=True),
        "previousStates": previous,
        "processStates": previous,
        "versionNumber": instance.version,
    }


async def _start(request: web.Request, name: str, body: HackneyStartIn) -> web.Response:
    runtime = request.app[RUNTIME]
    if name == EXAMPLE_KEY:
        await ensure_example_application(runtime.definitions)
    attributes = {"targetType": body.targetType, "relatedEntities": [e.model_dump(exclude_none=True) for e in body.relatedEntities]}
    result = await runtime.instances.create(
        principal_of(request), name, None, target_id=body.targetId, parameters=body.arguments, form_data=body.formData,
        documents=body.documents, assignment=body.assignment, attributes=attributes, idem=idempotency_key(request),
    )
    location = {"Location": f"{BASE}/{name}/{result['id']}"}
    return json_response({"id": result["id"], "instanceId": result["id"], "ok": True}, status=201, etag=result["etag"], headers=location)


async def start_from_body(request: web.Request) -> web.Response:
    """`POST /api/v1/process`: JSON with `processName` is Hackney; anything else is Concord's upload."""
    if not is_json(request):
        upload = request.app.get(UPLOAD_START)
        if upload is None:
            raise ProblemError(415, f"expected application/json with a processName, got {request.content_type or 'no media type'}")
        return await upload(request)
    body = await read_model(request, HackneyStartIn)
    if not body.processName:
        raise ProblemError(422, "processName is required", title="Invalid input", errors=["processName: required"])
    return await _start(request, body.processName, body)


async def start_named(request: web.Request) -> web.Response:
    """`POST /api/v1/process/{processName}`; a Concord entry point (with a colon) goes to that face."""
    name = request.match_info["processName"]
    # `sync` is Concord's too: only that face can wait for the process.
    if (":" in name or "sync" in request.query) and (concord := request.app.get(ENTRY_POINT_START)) is not None:
        return await concord(request)
    return await _start(request, name, await read_model(request, HackneyStartIn))


async def _instance_named(request: web.Request, *, past: bool = False) -> ProcessInstance:
    moment = as_of(request) if past else None
    instance = await request.app[RUNTIME].instances.get(
        request.match_info["id"], version=moment and moment[0], until=moment and moment[1]
    )
    if instance.definition_key != request.match_info["processName"]:
        raise NotFound(f"no {request.match_info['processName']} process {request.match_info['id']}")
    return instance


async def get_process(request: web.Request) -> web.Response:
    """`GET /api/v1/process/{processName}/{id}` (with ETag; `asOf` for how it was)."""
    instance = await _instance_named(request, past=True)
    return json_response(render(instance), etag=instance.version)


async def update_process(request: web.Request) -> web.Response:
    """`PATCH …/{id}[/{trigger}]`: data, documents, assignment and an optional trigger."""
    body = await read_model(request, HackneyUpdateIn)
    instance = await _instance_named(request)
    trigger = request.match_info.get("trigger") or body.trigger or body.processTrigger
    data = body.processData
    form = {**((data.formData or {}) if data else {}), **(body.formData or {})}
    documents = [*((data.documents or []) if data else []), *(body.documents or [])]
    try:
        result = await request.app[RUNTIME].instances.update(
            principal_of(request), str(instance.id), trigger=trigger, form_data=form, documents=documents,
            assignment=body.assignment, if_match=if_match(request), idem=idempotency_key(request),
        )
    except StaleVersion as e:  # Hackney answers a stale If-Match with 409, not 412
        raise ProblemError(409, e.detail, title="Conflict") from None
    response = web.Response(status=204)
    response.headers["ETag"] = f'"{result["etag"]}"'
    return response


async def list_processes(request: web.Request) -> web.Response:
    """`GET /api/v1/process?targetId=&pageSize=&paginationToken=`."""
    runtime, query = request.app[RUNTIME], request.query
    size, offset = _number(query.get("pageSize"), _PAGE_SIZE, "pageSize"), _number(query.get("paginationToken"), 0, "paginationToken")
    ids = await runtime.instance_views.by_target(query.get("targetId"), limit=min(size, 100) + 1, offset=offset)
    page = [render(await runtime.instances.get(i)) for i in ids[:size]]
    token = str(offset + size) if len(ids) > size else None
    return json_response({"results": page, "paginationDetails": {"nextToken": token}})


def _number(raw: str | None, default: int, name: str) -> int:
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9 or (name == "pageSize" and int(raw) == 0):
        raise ProblemError(400, f"{name} must be a positive whole number, got {raw[:20]!r}")
    return int(raw)


_ERRORS = (400, 404, 409, 415, 422)
ROUTES = [
    Route("POST", BASE, start_from_body, "Start a process (JSON with processName; a ZIP is Concord's)", "hackney",
          body=HackneyStartIn, response=HackneyStarted, status=201, errors=_ERRORS),
    Route("GET", BASE, list_processes, "Processes of a target (targetId, pageSize, paginationToken)", "hackney",
          response=HackneyPage, errors=(400,), query=("targetId", "pageSize", "paginationToken")),
    Route("POST", BASE + "/{processName}", start_named, "Start a process of a definition", "hackney",
          body=HackneyStartIn, response=HackneyStarted, status=201, errors=_ERRORS),
    Route("GET", f"{BASE}/{{processName}}/{_ID}", get_process, "A process with its current and previous states",
          "hackney", response=HackneyProcess, errors=(400, 404), query=("asOf",)),
    Route("PATCH", f"{BASE}/{{processName}}/{_ID}", update_process, "Update a process; fire the body's trigger if any",
          "hackney", body=HackneyUpdateIn, status=204, errors=_ERRORS),
    Route("PATCH", f"{BASE}/{{processName}}/{_ID}/{{trigger}}", update_process, "Fire a trigger with data",
          "hackney", body=HackneyUpdateIn, status=204, errors=_ERRORS),
]
