"""The OpenDataDSL face: process configurations, versioned and tagged.

Choices where the document is thin or wrong (see docs/faces.md, OpenDataDSL):
- The key is `_id`, or `name` when `_id` is absent (the document's own POST example has no `_id`).
- GET-edit-POST: `_key`, `_version`, `_timestamp`, `_user` are accepted and ignored; an object
  id `_id` (a non-current version) with `_key` beside it saves under `_key` (issue 9).
- A body with no Content-Type is read as JSON when it parses (the document's examples send none).
- `POST` answers 201 when it made a new version and 200 when the configuration was unchanged.
- Version numbers are never reused: after a rollback of version 3 the next change is version 4.
- A number in a path is a version, anything else a tag, and `~LATEST` the current version.
- Extra fields in a configuration are refused (422) except the document's `environment`
  and the ODSL `processType`. A malformed cron is 400; other invalid fields and an
  unsupported BPMN model are 422 naming each problem.
- Writes need the admin role; any authenticated user can read.
- `If-Match` failures are 412, also on a process that does not exist yet; every mutating
  call accepts `Idempotency-Key`, and a key reused for a different request is 422.
- `_distinct` answers JSON values (`[false, true]`), not their text; `_limit`/`_skip` above
  2^31-1 are 400. A selector is a version number only when it is 1-9 ASCII digits.
"""

from __future__ import annotations

import platform
from importlib import metadata

from aiohttp import web

from contracts.definitions import BuildInfo, ProcessConfigurationIn, ProcessConfigurationOut, RenameIn, VersionEntry
from events.definition import LATEST, is_version_number
from services.definitions.commands import (
    DefinitionChanged,
    DeleteDefinition,
    RemoveVersion,
    RenameDefinition,
    SaveDefinition,
    TagVersion,
    UntagVersion,
)
from services.faces.opendatadsl import render
from services.faces.opendatadsl.params import list_query
from services.http.body import read_model
from services.http.context import request_context
from services.http.headers import json_response
from services.http.problems import ProblemError
from services.http.routes import Route

BASE = "/api/process/v1"
ALL = "*"


async def build_info(request: web.Request) -> web.Response:
    return json_response({
        "name": "procession",
        "version": metadata.version("procession"),
        "build": request_context(request).runtime.settings.build,
        "python": platform.python_version(),
    })


async def list_processes(request: web.Request) -> web.Response:
    query, views = list_query(request.query), request_context(request).runtime.definition_views
    if query.distinct is not None:
        return json_response(await views.distinct(query))
    return json_response([render.configuration(c) for c in await views.list(query)])


async def save_process(request: web.Request) -> web.Response:
    ctx, body = request_context(request), await read_model(request, ProcessConfigurationIn, untyped=True)
    key = body.key()
    if not key:
        raise ProblemError(422, "the configuration needs an _id or a name", title="Invalid input",
                           errors=["_id: required when name is absent"])
    command = SaveDefinition(key, body.configuration(), ctx.if_match)
    result = await ctx.runtime.definitions.save(ctx.principal, command, ctx.idempotency_key)
    location = {"Location": f"{BASE}/{result.key}"}
    return _answer(result, status=201 if result.changed else 200, headers=location)


async def get_process(request: web.Request) -> web.Response:
    ctx = request_context(request)
    if ctx.as_of is not None:
        past, etag = await ctx.runtime.definitions.as_of(ctx.match("key"), version=ctx.as_of.version, until=ctx.as_of.moment)
        return json_response(render.configuration(past), etag=etag)
    current, etag = await ctx.runtime.definition_views.current(ctx.match("key"))
    return json_response(render.configuration(current), etag=etag)


async def get_version(request: web.Request) -> web.Response:
    ctx = request_context(request)
    key, selector, views = ctx.match("key"), ctx.match("selector"), ctx.runtime.definition_views
    if selector == ALL:
        return json_response([render.version_entry(v) for v in await views.versions(key)])
    found, etag = await views.version(key, selector)
    return json_response(render.configuration(found), etag=etag)


async def rename_process(request: web.Request) -> web.Response:
    ctx, body = request_context(request), await read_model(request, RenameIn, untyped=True)
    command = RenameDefinition(ctx.match("key"), body.id, ctx.if_match)
    return _answer(await ctx.runtime.definitions.rename(ctx.principal, command, ctx.idempotency_key))


async def tag_version(request: web.Request) -> web.Response:
    ctx = request_context(request)
    command = TagVersion(ctx.match("key"), ctx.match("selector"), ctx.match("tag"), ctx.if_match)
    return _answer(await ctx.runtime.definitions.tag(ctx.principal, command, ctx.idempotency_key))


async def rollback_process(request: web.Request) -> web.Response:
    ctx = request_context(request)
    command = RemoveVersion(ctx.match("key"), LATEST, ctx.if_match)
    return _answer(await ctx.runtime.definitions.remove_version(ctx.principal, command, ctx.idempotency_key))


async def delete_version_or_tag(request: web.Request) -> web.Response:
    ctx = request_context(request)
    service, key, selector, expected = ctx.runtime.definitions, ctx.match("key"), ctx.match("selector"), ctx.if_match
    if selector == ALL:
        result = await service.delete(ctx.principal, DeleteDefinition(key, expected), ctx.idempotency_key)
    elif is_version_number(selector) or selector == LATEST:
        result = await service.remove_version(ctx.principal, RemoveVersion(key, selector, expected), ctx.idempotency_key)
    else:
        result = await service.untag(ctx.principal, UntagVersion(key, selector, expected), ctx.idempotency_key)
    return _answer(result)


def _answer(result: DefinitionChanged, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    if result.deleted or result.current is None:
        return web.Response(status=204)
    return json_response(render.configuration(result.current), status=status, etag=result.etag, headers=headers)


_DEFINITION_ERRORS = (400, 404, 409, 412, 413, 415, 422)
# `events.definition.check_tag`: 1-64 letters, digits, '_', '.' or '-', not all digits (else 422).
_TAG = {"name": "tag", "in": "path", "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]*[A-Za-z_.-][A-Za-z0-9_.-]*$", "maxLength": 64}}
# What the body's schema cannot say (events/configuration.py checks it).
_SAVE_RULES = (
    "The key saved is `_id` (unless it is a version's 24-hex object id sent beside `_key`), else `_key`, else "
    "`name`: 1-128 letters, digits, `_`, `.` or `-`, starting with a letter or digit, not a bare number (else 422). "
    "A BPMN `workflow` must compile, and a state machine or Concord project must be one (422); a `workflow` "
    "naming another process (`#key`) is a key. `cron` follows the grammar of docs/faces.md (else 400). No string "
    "may hold a NUL character and no value may nest deeper than 32 levels (422)."
)
ROUTES = [
    Route("GET", "/api/process", build_info, "Build information for this service", "opendatadsl", role="public", response=BuildInfo),
    Route("GET", BASE, list_processes, "List process configurations (_limit, _skip, _sort, _distinct, field=value)",
          "opendatadsl", response=list[ProcessConfigurationOut], errors=(400,),
          query=("_limit", "_skip", "_sort", "_distinct")),
    Route("POST", BASE, save_process, "Create or update a process configuration", "opendatadsl", role="admin",
          body=ProcessConfigurationIn, response=ProcessConfigurationOut, status=201, errors=_DEFINITION_ERRORS,
          also=((200, ProcessConfigurationOut),), description=_SAVE_RULES),  # 200: saved unchanged
    Route("GET", BASE + "/{key}", get_process, "The current configuration, or as it was (asOf)", "opendatadsl",
          response=ProcessConfigurationOut, errors=(400, 404), query=("asOf",)),
    Route("PUT", BASE + "/{key}", rename_process, "Rename a process (body {\"_id\": new key})", "opendatadsl",
          role="admin", body=RenameIn, response=ProcessConfigurationOut, errors=_DEFINITION_ERRORS),
    Route("DELETE", BASE + "/{key}", rollback_process, "Roll back one version (the last one deletes the process)",
          "opendatadsl", role="admin", response=ProcessConfigurationOut, errors=(404, 409, 412), also=((204, None),)),
    Route("GET", BASE + "/{key}/{selector}", get_version, "A version by number or tag, or the version list (*)",
          "opendatadsl", response=ProcessConfigurationOut | list[VersionEntry], errors=(404,)),
    Route("DELETE", BASE + "/{key}/{selector}", delete_version_or_tag,
          "Delete a version (number), a tag (name) or the whole process (*)", "opendatadsl", role="admin",
          response=ProcessConfigurationOut, errors=(404, 409, 412), also=((204, None),)),
    Route("PUT", BASE + "/{key}/{selector}/{tag}", tag_version, "Tag a version (the tag moves if used elsewhere)",
          "opendatadsl", role="admin", response=ProcessConfigurationOut, errors=(400, 404, 409, 412, 422), parameters=(_TAG,)),
]
