"""Concord's form API and resume route for a process that waits on a person.

- `GET /api/v1/process/{id}/form`: the forms the process waits on, `[{"name", "custom", "yield"}]`
  (empty once it waits on none).
- `GET /api/v1/process/{id}/form/{formName}`: the form as it waits: `processInstanceId`, `name`,
  `custom`, `yield` and `fields`, each with `name`, `label`, `type`, `cardinality`
  (`ONE_AND_ONLY_ONE`, `ONE_OR_NONE`, `AT_LEAST_ONE`, `ANY`), `value` (current), `allowedValue`
  and `options` (pattern, min, max, placeholder, readOnly, ...), unset members left out; 404
  when the process does not wait on that form.
- `POST /api/v1/process/{id}/form/{formName}`: JSON (an object of field values),
  `application/x-www-form-urlencoded` or `multipart/form-data` (text parts are values, a
  repeated part a list; file parts become attachments). 200 with `{"ok": true, "processInstanceId"}`, or `{"ok": false,
  "processInstanceId", "errors": {"field": "message"}}` with Concord's messages; the process
  runs on after an accepted form. With `?sync=true` the answer waits (like a start's `sync`)
  until the process ends or waits again and carries its `status`.
- `POST /api/v1/process/{id}/resume/{eventName}`: resume a flow's `suspend: eventName`;
  `{"ok": true}`; 409 when the process does not wait for that event.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from events.instance_state import InstanceStatus as S
from services.faces.concord.payload import parse_bool
from services.faces.concord.process import late, visible_instance, wait_limit
from services.faces.concord.render import entry
from services.http.body import read_json
from services.http.context import request_context
from services.http.headers import json_response
from services.http.multipart import read_form
from services.http.problems import ProblemError
from services.instances.commands import ResumeEvent, SubmitForm
from services.instances.waits import settled


def _waiting(instance: Any) -> dict[str, dict[str, Any]]:
    return instance.forms_waiting if instance.status is S.WAITING else {}


async def list_forms(request: web.Request) -> web.Response:
    """The forms the process waits on."""
    instance = await visible_instance(request)
    return json_response([{"name": name, "custom": False, "yield": False} for name in _waiting(instance)])


async def get_form(request: web.Request) -> web.Response:
    """One waiting form with its fields as they stand."""
    instance = await visible_instance(request)
    name = request_context(request).match("formName")
    form = _waiting(instance).get(name)
    if form is None:
        raise ProblemError(404, f"process {instance.id} does not wait on form {name[:80]!r}")
    fields = [{k: v for k, v in f.items() if v is not None and v != {}} for f in form["fields"]]
    return json_response({"processInstanceId": str(instance.id), "name": name, "fields": fields,
                          "custom": False, "yield": False})


async def submit_form(request: web.Request) -> web.Response:
    """Submit a waiting form: `ok`, or the errors by field."""
    ctx = request_context(request)
    instance = await visible_instance(request)
    name = ctx.match("formName")
    # Whether the form still waits is the command's to say: a retry with the same
    # Idempotency-Key after the form was accepted answers the first answer again.
    runtime = ctx.runtime
    files: dict[str, bytes] = {}
    if request.content_type == "multipart/form-data":
        form = await read_form(request, max_parts=runtime.settings.max_form_parts, max_bytes=runtime.settings.max_upload_bytes)
        values: Any = {k: v[0] if len(v) == 1 else list(v) for k, v in form.texts.items()}
        values.update(form.json)
        files = form.files
    elif request.content_type == "application/x-www-form-urlencoded":
        posted = await request.post()
        values = {k: posted.getall(k)[0] if len(posted.getall(k)) == 1 else list(posted.getall(k)) for k in posted}
    else:
        values = await read_json(request)
        if not isinstance(values, dict):
            raise ProblemError(400, "a form submission is a JSON object of field values")
    command = SubmitForm(str(instance.id), name, values, files)
    outcome = await runtime.concord_forms.submit(ctx.principal, command, ctx.idempotency_key)
    body: dict[str, Any] = {"ok": outcome.ok, "processInstanceId": outcome.id}
    if not outcome.ok:
        body["errors"] = outcome.errors
    elif parse_bool(request.query.get("sync"), "sync"):
        waited, done = await runtime.instances.wait(outcome.id, settled, wait_limit(request))
        if not done:
            raise late(waited, wait_limit(request))
        body["status"] = entry(waited)["status"]
    return json_response(body)


async def resume_event(request: web.Request) -> web.Response:
    """Resume a process waiting for a `suspend` event."""
    ctx = request_context(request)
    instance = await visible_instance(request)
    command = ResumeEvent(str(instance.id), ctx.match("eventName"))
    await ctx.runtime.concord_forms.resume(ctx.principal, command, ctx.idempotency_key)
    return json_response({"ok": True})
