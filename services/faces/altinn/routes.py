"""The Altinn 3 face: an app's BPMN process, and instances led through it task by task.

Choices where the document is thin or wrong (see docs/faces.md, Altinn):
- The model is at the document's `GET /apps/{key}/process` and the real `…/api/v1/meta/process`.
  A definition whose workflow is a state machine or a script is answered as the BPMN its graph
  compiles to. The document's sample model is itself invalid (`Flow_1` targets `data_1`, but the
  task is `Task_1`): such a model is refused when written, naming the flow.
- `PUT …/process/next` takes the target as `?id=` (the document; v7 semantics: unknown 400, the
  current or an unreachable element 409, several reachable and none chosen 409) or the v8 body
  `{"action": ...}`; `?elementId=` is the older alias of `id`. Failing exit rules are 409 with
  each problem in `errors`. A `reject` action on a task that allows it abandons the task.
- `GET …/process/next` lists the elements reachable now (gateway conditions evaluated), or the
  start events before the start, as the document says (v8 answers `[]`).
- Events are named `process:Start`, `process:StartTask`, `process:EndTask`, `process:AbandonTask`
  and `process:EndEvent` (the document's End Event example). Task events' `currentTask` carries
  the document's `altinnTaskId` beside `altinnTaskType`. Its impossible timestamps
  (`2019-10-10T32:22.00Z`) are plain ISO-8601 here.
- Keys without a value are left out, as the document's shapes: `currentTask` when not at a task,
  `ended`/`endEvent` until the process ends.
- A gateway's default flow is taken by `next` when no condition holds, also beside unconditioned
  flows (Altinn's ProcessNavigator); those stay reachable with `?id=`.
- `completeProcess` runs automated tasks on its way (waiting for the script worker, at most the
  server's wait limit in all; past it, 200 with the automated task current) and stops at a task
  that cannot be left (409). Task types: data checks its required form data and documents;
  confirmation leaves with `confirm`; feedback waits until data is delivered to it (any face's
  data update) or an admin calls `next`.
- `{partyId}` must be the instance's `instanceOwnerPartyId` and `{key}` its definition; else 404.
  An instance started through another face (Hackney, Concord) has no party: it is party `0`.
- Who may see and move an instance is the one rule of every face (initiator, assignee or
  admin; otherwise 404). A task's `altinn:actions` are what a user may do there: `next` naming
  an action the task does not list (nor its type's default, e.g. `write` on a data task) is 403;
  an admin may name any. `next` without an action does the task type's default, as Altinn does.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from contracts.altinn import ProcessNextIn
from events.errors import NotFound
from events.flows.engine import next_steps
from events.flows.graph import FlowGraph
from events.instance import ProcessInstance
from events.workflow import is_xml
from infra.tokens import Principal
from services.faces.altinn.render import graph_to_bpmn, process_events, process_history, process_state, user_tasks
from services.http.body import read_model
from services.http.context import request_context
from services.http.headers import json_response
from services.http.problems import ProblemError
from services.http.routes import Route
from services.instances.commands import CompleteProcess, CreateInstance, InstanceChanged, MoveOn, StartInstance

APP = "/apps/{key}"
INSTANCE = APP + "/api/v1/instances/{partyId}/{instanceGuid}"
# Instances started through another face have no party; Altinn addresses them as party 0.
NO_PARTY = "0"


async def process_model(request: web.Request) -> web.Response:
    """The BPMN of the definition's current version."""
    runtime = request_context(request).runtime
    definition, _ = await runtime.definitions.get(request.match_info["key"])
    workflow = definition.current.configuration.get("workflow")
    if is_xml(workflow):
        return web.Response(text=workflow.lstrip("\ufeff"), content_type="text/xml")
    graph = await runtime.models.graph(str(definition.id), definition.current.number)
    return web.Response(text=graph_to_bpmn(graph), content_type="text/xml")


async def create_instance(request: web.Request) -> web.Response:
    """`POST /apps/{key}/api/v1/instances?instanceOwnerPartyId=`: an instance, not started."""
    party = request.query.get("instanceOwnerPartyId", "")
    if not party.isascii() or not party.isdigit() or len(party) > 18:
        raise ProblemError(400, "instanceOwnerPartyId must be a party number", errors=["instanceOwnerPartyId: required, digits"])
    ctx = request_context(request)
    command = CreateInstance(ctx.match("key"), owner=party, start=False)
    result = await ctx.runtime.instances.create(ctx.principal, command, ctx.idempotency_key)
    instance = await ctx.runtime.instances.get(result.id)
    body = _instance_body(instance, await ctx.runtime.instances.graph_of(instance))
    location = {"Location": f"/apps/{instance.definition_key}/api/v1/instances/{party}/{instance.id}"}
    return json_response(body, status=201, etag=result.etag, headers=location)


def _instance_body(instance: ProcessInstance, graph: FlowGraph) -> dict[str, Any]:
    return {
        "id": f"{instance.owner}/{instance.id}",
        "instanceOwner": {"partyId": instance.owner},
        "appId": instance.definition_key,
        "process": process_state(instance, graph),
        "created": instance.created_on.isoformat(),
        "createdBy": instance.initiator,
    }


async def _instance(request: web.Request, *, past: bool = False) -> tuple[ProcessInstance, FlowGraph]:
    ctx, m = request_context(request), request.match_info
    service, moment = ctx.runtime.instances, ctx.as_of if past else None
    instance = await service.visible(ctx.principal, m["instanceGuid"], version=moment and moment.version,
                                     until=moment and moment.moment)
    if instance.definition_key != m["key"] or (instance.owner or NO_PARTY) != m["partyId"]:
        raise NotFound(f"no instance {m['partyId']}/{m['instanceGuid']} of app {m['key']}")
    return instance, await service.graph_of(instance)


async def _answer(request: web.Request, result: InstanceChanged) -> web.Response:
    instances = request_context(request).runtime.instances
    instance = await instances.get(result.id)
    return json_response(process_state(instance, await instances.graph_of(instance)), etag=instance.version)


async def get_process(request: web.Request) -> web.Response:
    """The process state (`asOf` for how it was)."""
    instance, graph = await _instance(request, past=True)
    return json_response(process_state(instance, graph), etag=instance.version)


async def start_process(request: web.Request) -> web.Response:
    """Start the process at `?startEvent=` or the only start event."""
    ctx, (instance, _) = request_context(request), await _instance(request)
    command = StartInstance(str(instance.id), request.query.get("startEvent"), ctx.if_match)
    return await _answer(request, await ctx.runtime.instances.start(ctx.principal, command, ctx.idempotency_key))


async def get_next(request: web.Request) -> web.Response:
    """The elements reachable from the current task, or from each active one by task (start events before the start)."""
    instance, graph = await _instance(request)
    if not instance.started:
        return json_response([n.id for n in graph.start_events()])
    if instance.current_task is None:
        raise ProblemError(409, "Process is ended." if instance.status.finished else "no current task to move from")
    tasks = user_tasks(instance, graph)
    reachable = {task: [s.target for s in next_steps(graph, task, instance.facts())] for task in tasks}
    # One active task: the document's list. Several (after a parallel fork): the list of each, by task.
    return json_response(reachable[tasks[0]] if len(tasks) == 1 else reachable)


async def put_next(request: web.Request) -> web.Response:
    """Leave the current task for `?id=`, the body's action's branch, or the only next element."""
    instance, graph = await _instance(request)
    action = (await read_model(request, ProcessNextIn)).action if request.can_read_body else None
    ctx = request_context(request)
    _check_action(ctx.principal, instance, graph, action)
    command = MoveOn(str(instance.id), request.query.get("id") or request.query.get("elementId"), action, ctx.if_match)
    return await _answer(request, await ctx.runtime.instances.next(ctx.principal, command, ctx.idempotency_key))


def _check_action(who: Principal, instance: ProcessInstance, graph: FlowGraph, action: str | None) -> None:
    """A user may only name an action the current task's `altinn:actions` list (403); an admin any."""
    if who.is_admin or instance.current_task is None or action is None:
        return
    node = graph.node(instance.current_task)
    allowed = [a.strip() for a in node.extensions.get("actions", "").split(",") if a.strip()]
    if action not in allowed and action != node.default_action:
        raise ProblemError(403, f"action {action!r} is not allowed at task {node.id} (allowed: {', '.join(allowed) or 'none'})",
                           title="Forbidden")


async def complete_process(request: web.Request) -> web.Response:
    """Move task by task to an end; 409 where a task cannot be left (the process stays there)."""
    ctx, (instance, _) = request_context(request), await _instance(request)
    # Automated tasks on the way are run and waited for, at most the server's wait limit in all.
    command = CompleteProcess(str(instance.id), ctx.if_match, wait_seconds=ctx.runtime.settings.max_wait_seconds)
    result = await ctx.runtime.instances.complete_process(ctx.principal, command, ctx.idempotency_key)
    if result.problems:
        raise ProblemError(409, f"the process stopped at {result.element}", title="Validation failed for task",
                           errors=result.problems)
    return await _answer(request, result)


async def get_history(request: web.Request) -> web.Response:
    """`processHistory`: each element visited, with its times."""
    instance, _ = await _instance(request, past=True)
    return json_response({"processHistory": process_history(instance)})


async def get_events(request: web.Request) -> web.Response:
    """The instance's process events, named as the document names them."""
    instance, graph = await _instance(request)
    events = await request_context(request).runtime.instances.events(instance.id)
    return json_response(process_events(events, graph))


_FLOW_ERRORS = (400, 404, 409, 412)
ROUTES = [
    Route("GET", APP + "/process", process_model, "The app's BPMN process model", "altinn",
          response_media="text/xml", response={"type": "string"}, errors=(404,)),
    Route("GET", APP + "/api/v1/meta/process", process_model, "The app's BPMN process model", "altinn",
          response_media="text/xml", response={"type": "string"}, errors=(404,)),
    Route("POST", APP + "/api/v1/instances", create_instance, "Create an instance (not started)", "altinn",
          status=201, errors=(400, 404, 409), query=("instanceOwnerPartyId",)),
    Route("GET", INSTANCE + "/process", get_process, "The instance's process state", "altinn",
          errors=(400, 404), query=("asOf",)),
    Route("POST", INSTANCE + "/process/start", start_process, "Start the process", "altinn",
          errors=_FLOW_ERRORS, query=("startEvent",)),
    Route("GET", INSTANCE + "/process/next", get_next, "Elements reachable from the current task", "altinn",
          errors=(404, 409)),
    Route("PUT", INSTANCE + "/process/next", put_next, "Complete the current task and move on", "altinn",
          body=ProcessNextIn, body_required=False, errors=(*_FLOW_ERRORS, 403, 415, 422), query=("id", "elementId")),
    Route("PUT", INSTANCE + "/process/completeProcess", complete_process, "Move task by task to an end", "altinn",
          errors=_FLOW_ERRORS),
    Route("GET", INSTANCE + "/process/history", get_history, "The process history", "altinn",
          errors=(400, 404), query=("asOf",)),
    Route("GET", INSTANCE + "/events", get_events, "The instance's process events", "altinn", errors=(404,)),
]
