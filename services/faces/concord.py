"""The Concord face (seed 000): start from a ZIP, a form or an entry point; status, kill, wait, log.

Choices where the document is thin or wrong (see shared/design/seed-semantics.md, section A,
and `concord_payload.py` for what an upload runs):
- Starting: `POST /api/v1/process` with `application/octet-stream`, `application/zip` or
  `multipart/form-data` is this face (Hackney's route hands it over through `UPLOAD_START`);
  `POST /api/v1/process/{entryPoint}` with a colon in the entry point is this face too
  (Hackney's route hands it over through `ENTRY_POINT_START`; a bare name is Hackney's start,
  which means the same). Both answer 201 with `Location`, `instanceId`, `ok` and Hackney's `id`.
- `sync=true` (query, or a form part) is kept, as the document asks (real Concord removed it):
  the request waits until the process ends or waits on a person, at most `max_wait_seconds`;
  past that it is 408 with the process entry in the problem's `process` member. A process that
  fails under `sync` is still a 201 whose `status` says FAILED (the start itself succeeded).
- `waitForCompletion?timeout=` is in milliseconds (absent or negative: the server limit, which
  also caps it); it waits for FINISHED, FAILED, CANCELLED or TIMED_OUT like real Concord, and
  answers 408 with the entry in `process` (an RFC 9457 problem, not Concord's bare entry).
- `DELETE /api/v1/process/{id}` kills and answers 204; killing a finished process is a no-op.
- The log is `text/plain; charset=utf-8` (the document; real Concord sends octet-stream), one
  line per output line: `<ISO time> <stream> <text>`. Range is RFC 9110: 206 with
  `Content-Range`, 416 with `bytes */size`; the ETag is a digest of the log, for `If-Range`.
  The log grows while the process runs: re-request `bytes=<size>-` to follow it.
- Attachments are the process's files (inputs and outputs). The list is a JSON array of names
  (real Concord); a file is `GET` (real) or `POST` (the document) `…/attachment/{name}`, with
  Range; a name ending in `/` is 400, as in real Concord.
- The portal `GET /api/service/process_portal/start?entryPoint=…&param=…` starts the process
  (the query's other parameters are its arguments) and answers 303 to a plain HTML page with the
  definition's start form and the process's status. It needs a token like every route.
- A user sees only processes they started; an admin sees all; anyone else is 403.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from contracts.hackney import HackneyStartIn
from events.instance import ProcessInstance
from infra.archives import ArchiveError, ArchiveLimits, ArchiveTooLarge, open_zip
from services.archive_starts import adhoc_definition
from services.faces.concord_payload import (
    StartPlan, build_plan, parse_bool, parse_entry_point, parse_start_at, request_object,
)
from services.faces.concord_render import entry, portal_page
from services.http.auth import principal_of
from services.http.body import read_model
from services.http.headers import idempotency_key, json_response
from services.http.multipart import read_form
from services.http.problems import ProblemError
from services.http.ranges import ranged_file_response, ranged_response
from services.http.routes import Route
from services.instance_waits import finished, settled, wait_for
from services.keys import RUNTIME

BASE = "/api/v1/process"
ONE = BASE + "/{id}"
PORTAL = "/api/service/process_portal"
_ZIP_TYPES = ("application/octet-stream", "application/zip", "application/x-zip-compressed")


# --- access and reading -------------------------------------------------------------------

async def visible_instance(request: web.Request) -> ProcessInstance:
    """The process named in the path, if the caller may see it (own, or admin); 404 / 403."""
    instance = await request.app[RUNTIME].instances.get(request.match_info["id"])
    who = principal_of(request)
    if not who.is_admin and instance.initiator != who.user:
        raise ProblemError(403, "this process belongs to another user")
    return instance


def _wait_limit(request: web.Request) -> float:
    return request.app[RUNTIME].settings.max_wait_seconds


def _timeout_ms(raw: str | None, limit: float) -> float:
    if raw is None or raw == "":
        return limit
    try:
        value = int(raw)
    except ValueError:
        raise ProblemError(400, f"timeout must be a whole number of milliseconds, got {raw[:20]!r}") from None
    return limit if value < 0 else min(value / 1000, limit)


def _late(instance: ProcessInstance, waited: float) -> ProblemError:
    body = entry(instance)
    return ProblemError(408, f"the process is still {body['status']} after {waited:g} s", title="Request Timeout",
                        process=body, processStatus=body["status"])


# --- starting -------------------------------------------------------------------------------

async def _read_upload(request: web.Request, cap: int) -> bytes:
    # Streamed against the upload cap: the app's client_max_size is for JSON bodies.
    if request.content_length is not None and request.content_length > cap:
        raise ProblemError(413, f"the archive is larger than {cap} bytes")
    data = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > cap:
            raise ProblemError(413, f"the archive is larger than {cap} bytes")
    return bytes(data)


async def _open_archive(request: web.Request, data: bytes | None) -> dict[str, bytes] | None:
    if data is None:
        return None
    s = request.app[RUNTIME].settings
    try:
        return await open_zip(data, ArchiveLimits(s.max_archive_entries, s.max_archive_unpacked_bytes, s.max_archive_ratio))
    except ArchiveTooLarge as e:
        raise ProblemError(413, f"archive refused: {e}", title="Archive too large") from None
    except ArchiveError as e:
        raise ProblemError(400, f"archive refused: {e}", title="Archive refused") from None


async def _plan_upload(request: web.Request) -> StartPlan:
    settings, now = request.app[RUNTIME].settings, datetime.now(timezone.utc)
    if request.content_type == "multipart/form-data":
        form = await read_form(request, max_parts=settings.max_form_parts, max_bytes=settings.max_upload_bytes)
        archive = await _open_archive(request, form.files.pop("archive", None))
        raw_request = form.json.pop("request", None) or form.files.pop("request", None)
        return build_plan(
            archive=archive, request=request_object(raw_request, "request") if raw_request is not None else None,
            texts=form.texts, files=form.files, entry_point=form.text("entryPoint"),
            start_at=parse_start_at(form.text("startAt"), now),
            sync=parse_bool(form.text("sync") or request.query.get("sync"), "sync"),
        )
    if request.content_type in _ZIP_TYPES:
        archive = await _open_archive(request, await _read_upload(request, settings.max_upload_bytes))
        return build_plan(archive=archive, request=None, texts={}, files={}, entry_point=request.query.get("entryPoint"),
                          start_at=parse_start_at(request.query.get("startAt"), now),
                          sync=parse_bool(request.query.get("sync"), "sync"))
    raise ProblemError(415, f"a process is started from JSON (Hackney), a ZIP or multipart/form-data, not {request.content_type}")


async def _run_plan(request: web.Request, plan: StartPlan) -> dict[str, Any]:
    runtime, who, idem = request.app[RUNTIME], principal_of(request), idempotency_key(request)
    if plan.entry is not None:
        key, selector = plan.entry.key, plan.entry.selector
    else:  # build_plan gives an entry point or an ad hoc model, never neither
        key, selector = await adhoc_definition(runtime.definitions, plan.adhoc or {})
    flow = plan.flow or (plan.entry.flow if plan.entry else None)
    if flow is None:
        return await runtime.scripts.start(who, definition=key, selector=selector, arguments=plan.arguments,
                                           files=plan.files, start_at=plan.start_at, idem=idem)
    # The script service takes no start event: a named flow starts through the instance service,
    # which cannot store files or schedule.
    if plan.files or plan.start_at:
        raise ProblemError(422, "naming a flow (start event) together with files or startAt is not supported yet",
                           errors=["entryPoint: name no flow, or send no files and no startAt"])
    return await runtime.instances.create(who, key, selector, parameters=plan.arguments, start_event=flow, idem=idem)


async def _started(request: web.Request, instance_id: str, key: str, sync: bool, etag: Any) -> web.Response:
    body: dict[str, Any] = {"instanceId": instance_id, "ok": True, "id": instance_id}
    if sync:
        runtime = request.app[RUNTIME]
        instance, done = await wait_for(runtime.store, runtime.instances, instance_id, settled, _wait_limit(request))
        if not done:
            raise _late(instance, _wait_limit(request))
        body["status"], etag = entry(instance)["status"], instance.version
    return json_response(body, status=201, etag=etag, headers={"Location": f"{BASE}/{key}/{instance_id}"})


async def start_upload(request: web.Request) -> web.Response:
    """`POST /api/v1/process` with a ZIP or a form (handed over by Hackney's route)."""
    plan = await _plan_upload(request)
    result = await _run_plan(request, plan)
    instance = await request.app[RUNTIME].instances.get(result["id"])
    return await _started(request, result["id"], instance.definition_key, plan.sync, result.get("etag"))


async def start_entry_point(request: web.Request) -> web.Response:
    """`POST /api/v1/process/{project:repo:flow}` with JSON (handed over by Hackney's route)."""
    point = parse_entry_point(request.match_info["processName"])
    sync = parse_bool(request.query.get("sync"), "sync")
    body = await read_model(request, HackneyStartIn)
    result = await request.app[RUNTIME].instances.create(
        principal_of(request), point.key, point.selector, target_id=body.targetId, parameters=body.arguments,
        form_data=body.formData, documents=body.documents, assignment=body.assignment, start_event=point.flow,
        attributes={"targetType": body.targetType, "relatedEntities": [e.model_dump(exclude_none=True) for e in body.relatedEntities]},
        idem=idempotency_key(request),
    )
    return await _started(request, result["id"], point.key, sync, result["etag"])


# --- reading and killing ----------------------------------------------------------------------

async def get_process(request: web.Request) -> web.Response:
    """`GET /api/v1/process/{id}`: the process entry."""
    instance = await visible_instance(request)
    return json_response(entry(instance), etag=instance.version)


async def kill_process(request: web.Request) -> web.Response:
    """`DELETE /api/v1/process/{id}`: forcefully stop; a finished process is left as it is."""
    instance = await visible_instance(request)
    if not instance.status.finished:
        await request.app[RUNTIME].scripts.stop(principal_of(request), str(instance.id))
    return web.Response(status=204)


async def wait_for_completion(request: web.Request) -> web.Response:
    """`GET …/{id}/waitForCompletion?timeout=ms`: the entry once the process is over; 408 past the timeout."""
    instance = await visible_instance(request)
    timeout = _timeout_ms(request.query.get("timeout"), _wait_limit(request))
    runtime = request.app[RUNTIME]
    instance, done = await wait_for(runtime.store, runtime.instances, str(instance.id), finished, timeout)
    if not done:
        raise _late(instance, timeout)
    return json_response(entry(instance), etag=instance.version)


async def get_log(request: web.Request) -> web.Response:
    """`GET …/{id}/log`: the console output so far, with Range."""
    instance = await visible_instance(request)
    log = await request.app[RUNTIME].output.console_log(str(instance.id))
    etag = '"' + hashlib.sha256(log).hexdigest()[:32] + '"'
    disposition = {"Content-Disposition": f'inline; filename="{instance.id}.log"'}
    return ranged_response(request, log, content_type="text/plain", charset="utf-8", etag=etag, headers=disposition)


async def _files(request: web.Request, instance: ProcessInstance) -> dict[str, dict[str, Any]]:
    # Outputs win over inputs of the same name, as the output store reads them.
    output = request.app[RUNTIME].output
    listed = [*await output.input_files(str(instance.id)), *await output.output_files(str(instance.id))]
    return {f["name"]: f for f in listed}


async def list_attachments(request: web.Request) -> web.Response:
    """`GET …/{id}/attachment`: the names of the process's files (inputs and outputs)."""
    instance = await visible_instance(request)
    return json_response(sorted(await _files(request, instance)))


async def get_attachment(request: web.Request) -> web.Response:
    """`GET` (or the document's `POST`) `…/{id}/attachment/{name}`: one file, with Range."""
    name = request.match_info["name"]
    if name.endswith("/") or ".." in name.split("/"):
        raise ProblemError(400, f"attachment name {name[:120]!r} must name a file")
    instance = await visible_instance(request)
    if name not in await _files(request, instance):
        raise ProblemError(404, f"process {instance.id} has no attachment {name[:120]!r}")
    path, info = await request.app[RUNTIME].output.read_file(str(instance.id), name)
    return await ranged_file_response(
        request, path, info["size"], content_type="application/octet-stream", etag=f'"{info["sha256"]}"',
        headers={"Content-Disposition": f'attachment; filename="{name.rsplit("/", 1)[-1]}"'},
    )


# --- the browser portal -----------------------------------------------------------------------

async def portal_start(request: web.Request) -> web.Response:
    """`GET /api/service/process_portal/start?entryPoint=…`: start, then 303 to the process page."""
    raw = request.query.get("entryPoint")
    if not raw:
        raise ProblemError(400, "entryPoint is required", errors=["entryPoint: required"])
    point = parse_entry_point(raw)
    arguments = {k: v for k, v in request.query.items() if k != "entryPoint"}
    result = await request.app[RUNTIME].instances.create(
        principal_of(request), point.key, point.selector, parameters=arguments, start_event=point.flow,
    )
    raise web.HTTPSeeOther(f"{PORTAL}/process/{result['id']}")


async def portal_page_view(request: web.Request) -> web.Response:
    """The plain HTML page of one process: its definition's start form and its status."""
    instance = await visible_instance(request)
    configuration = await request.app[RUNTIME].instances.models.configuration(instance.definition_id, instance.definition_version)
    return web.Response(text=portal_page(instance, configuration, f"{PORTAL}/start"), content_type="text/html")


_ENTRY = {"type": "object", "properties": {"instanceId": {"type": "string"}, "status": {"type": "string"}}}
_TEXT, _BYTES = {"type": "string"}, {"type": "string", "format": "binary"}
_ONE_ERRORS = (400, 404)
ROUTES = [
    Route("GET", ONE, get_process, "A process's status (Concord)", "concord", response=_ENTRY, errors=_ONE_ERRORS),
    Route("DELETE", ONE, kill_process, "Forcefully stop a process; the record stays (Concord)", "concord",
          status=204, errors=_ONE_ERRORS),
    Route("GET", ONE + "/waitForCompletion", wait_for_completion, "Wait until a process is over (timeout in ms)",
          "concord", response=_ENTRY, errors=(400, 404, 408), query=("timeout",)),
    Route("GET", ONE + "/log", get_log, "A process's log; Range: bytes=a-b, a-, -n", "concord", response=_TEXT,
          response_media="text/plain", errors=(400, 404, 416)),
    Route("GET", ONE + "/attachment", list_attachments, "The names of a process's attachments", "concord",
          response={"type": "array", "items": _TEXT}, errors=_ONE_ERRORS),
    Route("GET", ONE + "/attachment/{name:.+}", get_attachment, "Download an attachment (Range)", "concord",
          response=_BYTES, response_media="application/octet-stream", errors=(400, 404, 416)),
    Route("POST", ONE + "/attachment/{name:.+}", get_attachment, "Download an attachment (the document's POST)",
          "concord", response=_BYTES, response_media="application/octet-stream", errors=(400, 404, 416)),
    Route("GET", PORTAL + "/start", portal_start, "Start from a browser, then see the process page", "concord",
          status=303, errors=(400, 404, 409, 422), query=("entryPoint",)),
    Route("GET", PORTAL + "/process/{id}", portal_page_view, "A process's page: start form and status", "concord",
          response=_TEXT, response_media="text/html", errors=_ONE_ERRORS),
]
