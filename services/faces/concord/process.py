"""The Concord face's reads of one process: status, kill, wait, log, attachments, portal page.

Every handler first checks the caller may see the process (the one ownership rule of
`services.instances.access`); one they may not see is 404, as if it did not exist.
"""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from events.instance import ProcessInstance
from services.faces.concord.render import PORTAL, entry, portal_page
from services.http.context import request_context
from services.http.headers import json_response
from services.http.problems import ProblemError
from services.http.ranges import ranged_file_response, ranged_response
from services.instances.waits import finished
from services.scripts.commands import StopProcess


async def visible_instance(request: web.Request) -> ProcessInstance:
    """The process named in the path, if the caller may see it; 404 otherwise."""
    ctx = request_context(request)
    return await ctx.runtime.instances.visible(ctx.principal, ctx.match("id"))


def wait_limit(request: web.Request) -> float:
    """The longest a request may wait for a process (`sync`, `waitForCompletion`)."""
    return request_context(request).runtime.settings.max_wait_seconds


def late(instance: ProcessInstance, waited: float) -> ProblemError:
    """The 408 for a wait that ran out, with the process entry in `process`."""
    body = entry(instance)
    return ProblemError(408, f"the process is still {body['status']} after {waited:g} s", title="Request Timeout",
                        process=body, processStatus=body["status"])


async def get_process(request: web.Request) -> web.Response:
    """`GET /api/v1/process/{id}`: the process entry."""
    instance = await visible_instance(request)
    return json_response(entry(instance), etag=instance.version)


async def list_subprocesses(request: web.Request) -> web.Response:
    """`GET /api/v1/process/{id}/subprocess`: the processes started for this one (its handlers'), as entries."""
    ctx = request_context(request)
    parent = await visible_instance(request)
    children = await ctx.runtime.instance_views.children(ctx.principal, parent.id)
    return json_response([entry(await ctx.runtime.instances.get(str(child))) for child in children])


async def kill_process(request: web.Request) -> web.Response:
    """`DELETE /api/v1/process/{id}`: forcefully stop; a finished process is left as it is.

    `If-Match` (the status's ETag) is honoured like on every other write: a stale one is 412,
    also on a finished process, and the command checks it again against a concurrent change.
    """
    ctx = request_context(request)
    instance = await visible_instance(request)
    if ctx.if_match is not None and ctx.if_match != instance.version:
        raise ProblemError(412, f"the process is at version {instance.version}, not {ctx.if_match}",
                           title="Precondition Failed")
    if not instance.status.finished:
        await ctx.runtime.scripts.stop(ctx.principal, StopProcess(str(instance.id), ctx.if_match), ctx.idempotency_key)
    return web.Response(status=204)


async def wait_for_completion(request: web.Request) -> web.Response:
    """`GET …/{id}/waitForCompletion?timeout=ms`: the entry once the process is over; 408 past the timeout."""
    instance = await visible_instance(request)
    timeout = _timeout_ms(request.query.get("timeout"), wait_limit(request))
    instance, done = await request_context(request).runtime.instances.wait(str(instance.id), finished, timeout)
    if not done:
        raise late(instance, timeout)
    return json_response(entry(instance), etag=instance.version)


def _timeout_ms(raw: str | None, limit: float) -> float:
    if raw is None or raw == "":
        return limit
    try:
        value = int(raw)
    except ValueError:
        raise ProblemError(400, f"timeout must be a whole number of milliseconds, got {raw[:20]!r}") from None
    return limit if value < 0 else min(value / 1000, limit)


async def get_log(request: web.Request) -> web.Response:
    """`GET …/{id}/log`: the console output so far, with Range."""
    instance = await visible_instance(request)
    log = await request_context(request).runtime.output.console_log(str(instance.id))
    etag = '"' + hashlib.sha256(log).hexdigest()[:32] + '"'
    disposition = {"Content-Disposition": f'inline; filename="{instance.id}.log"'}
    return ranged_response(request, log, content_type="text/plain", charset="utf-8", etag=etag, headers=disposition)


async def _files(request: web.Request, instance: ProcessInstance) -> dict[str, dict[str, Any]]:
    # Outputs win over inputs of the same name, as the output store reads them.
    output = request_context(request).runtime.output
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
    path, info = await request_context(request).runtime.output.read_file(str(instance.id), name)
    return await ranged_file_response(
        request, path, info["size"], content_type="application/octet-stream", etag=f'"{info["sha256"]}"',
        headers={"Content-Disposition": f'attachment; filename="{name.rsplit("/", 1)[-1]}"'},
    )


async def portal_page_view(request: web.Request) -> web.Response:
    """The plain HTML page of one process: its definition's start form and its status."""
    instance = await visible_instance(request)
    configuration = await request_context(request).runtime.models.configuration(instance.definition_id, instance.definition_version)
    return web.Response(text=portal_page(instance, configuration, f"{PORTAL}/start"), content_type="text/html")
