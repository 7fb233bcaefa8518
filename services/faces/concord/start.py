"""The Concord face's starts: an upload (ZIP or form), an entry point with JSON, and the portal.

Each answers as the document shows (the face's docstring, `routes.py`): 200 with `{"instanceId",
"ok": true}` and no `Location` (the process is `GET /api/v1/process/{instanceId}`); with `sync`,
after the process settled, with its `status` (408 past the wait limit). The portal called with a
token is an API call and answers the same; a browser without one is sent to the portal pages.

Every start, whichever route, goes through the same `StartProcess` command, so the same
definition gets the same arguments: its configuration's `input` defaults and, for a script,
the script's parameter checks (422 naming each bad one).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from contracts.concord import ConcordStartIn
from events.concord.program import PROFILES_ATTRIBUTE
from services.definitions.adhoc import adhoc_definition
from services.faces.concord.payload import StartPlan, active_profiles, parse_bool, parse_entry_point
from services.faces.concord.process import late, wait_limit
from services.faces.concord.render import entry
from services.faces.concord.project import check_project
from services.faces.concord.upload import plan_upload
from services.http.body import read_model
from services.http.context import request_context
from services.http.headers import json_response
from services.http.problems import ProblemError
from services.instances.commands import InstanceChanged
from services.instances.waits import settled
from services.scripts.commands import StartProcess


async def start_upload(request: web.Request) -> web.Response:
    """`POST /api/v1/process` with a ZIP or a form (dispatched here by `services/faces/dispatch.py`)."""
    ctx = request_context(request)
    plan = await plan_upload(request)
    await check_project(ctx, plan)
    result = await _run_plan(request, plan)
    return await _started(request, result.id, plan.sync, result.etag)


async def start_entry_point(request: web.Request) -> web.Response:
    """`POST /api/v1/process/{project:repo:flow}` with JSON (dispatched here by `services/faces/dispatch.py`)."""
    ctx = request_context(request)
    point = parse_entry_point(ctx.match("processName"))
    sync = parse_bool(request.query.get("sync"), "sync")
    body = await read_model(request, ConcordStartIn)
    profiles = active_profiles(body.activeProfiles)
    attributes: dict[str, Any] = {"targetType": body.targetType,
                                  "relatedEntities": [e.model_dump(exclude_none=True) for e in body.relatedEntities]}
    if profiles:
        attributes[PROFILES_ATTRIBUTE] = profiles
    command = StartProcess(
        definition=point.key, selector=point.selector, arguments=body.arguments, start_event=point.flow,
        attributes=attributes, target_id=body.targetId, form_data=body.formData, documents=tuple(body.documents),
        assignment=body.assignment,
    )
    result = await ctx.runtime.scripts.start(ctx.principal, command, ctx.idempotency_key)
    return await _started(request, result.id, sync, result.etag)


async def portal_start(request: web.Request) -> web.Response:
    """`GET /api/service/process_portal/start?entryPoint=…` with a token: start, answer like every Concord start."""
    ctx, raw = request_context(request), request.query.get("entryPoint")
    if not raw:
        raise ProblemError(400, "entryPoint is required", errors=["entryPoint: required"])
    point = parse_entry_point(raw)
    arguments = {k: v for k, v in request.query.items() if k != "entryPoint"}
    command = StartProcess(definition=point.key, selector=point.selector, arguments=arguments, start_event=point.flow)
    result = await ctx.runtime.scripts.start(ctx.principal, command, ctx.idempotency_key)
    return await _started(request, result.id, False, result.etag)


async def _run_plan(request: web.Request, plan: StartPlan) -> InstanceChanged:
    ctx = request_context(request)
    if plan.entry is not None:
        key, selector = plan.entry.key, plan.entry.selector
    else:  # build_plan gives an entry point or an ad hoc model, never neither
        key, selector = await adhoc_definition(ctx.runtime.definitions, plan.adhoc or {})
    command = StartProcess(
        definition=key, selector=selector, arguments=plan.arguments, files=plan.files,
        start_at=plan.start_at, start_event=plan.flow or (plan.entry.flow if plan.entry else None),
        attributes={PROFILES_ATTRIBUTE: plan.profiles} if plan.profiles else {},
    )
    return await ctx.runtime.scripts.start(ctx.principal, command, ctx.idempotency_key)


async def _started(request: web.Request, instance_id: str, sync: bool, etag: Any) -> web.Response:
    # The document's answer, 200 and no Location: another face's URL would be a wrong promise.
    body: dict[str, Any] = {"instanceId": instance_id, "ok": True}
    if sync:
        instances = request_context(request).runtime.instances
        instance, done = await instances.wait(instance_id, settled, wait_limit(request))
        if not done:
            raise late(instance, wait_limit(request))
        body["status"], etag = entry(instance)["status"], instance.version
    return json_response(body, status=200, etag=etag)
