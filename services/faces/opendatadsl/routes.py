"""The OpenDataDSL face: process configurations, versioned and tagged.

Choices where the document is thin or wrong (see shared/design):
- The key is `_id`, or `name` when `_id` is absent (the document's own POST example has no `_id`).
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
from services.definitions.queries import render_aggregate
from services.http.auth import principal_of
from services.http.body import read_model
from services.http.headers import as_of, idempotency_key, if_match, json_response
from services.http.problems import ProblemError
from services.http.routes import Route
from services.http.app_keys import RUNTIME

BASE = "/api/process/v1"
ALL = "*"


async def build_info(request: web.Request) -> web.Response:
    return json_response({
        "name": "procession",
        "version": metadata.version("procession"),
        "build": request.app[RUNTIME].settings.build,
        "python": platform.python_version(),
    })


async def list_processes(request: web.Request) -> web.Response:
    return json_response(await request.app[RUNTIME].definition_views.list(dict(request.query)))


async def save_process(request: web.Request) -> web.Response:
    body = await read_model(request, ProcessConfigurationIn)
    key = body.id or body.name
    if not key:
        raise ProblemError(422, "the configuration needs an _id or a name", title="Invalid input",
                           errors=["_id: required when name is absent"])
    result = await request.app[RUNTIME].definitions.save(
        principal_of(request), key, body.configuration(), if_match(request), idempotency_key(request)
    )
    status = 201 if result["changed"] else 200
    location = {"Location": f"{BASE}/{result['body']['_key']}"}
    return json_response(result["body"], status=status, etag=result["etag"], headers=location)


async def get_process(request: web.Request) -> web.Response:
    runtime, key = request.app[RUNTIME], request.match_info["key"]
    moment = as_of(request)
    if moment is not None:
        past = await runtime.definitions.as_of(key, version=moment[0], until=moment[1])
        return json_response(render_aggregate(past), etag=past.version)
    body, etag = await runtime.definition_views.current(key)
    return json_response(body, etag=etag)


async def get_version(request: web.Request) -> web.Response:
    runtime, key, selector = request.app[RUNTIME], request.match_info["key"], request.match_info["selector"]
    if selector == ALL:
        return json_response(await runtime.definition_views.versions(key))
    body, etag = await runtime.definition_views.version(key, selector)
    return json_response(body, etag=etag)


async def rename_process(request: web.Request) -> web.Response:
    body = await read_model(request, RenameIn)
    result = await request.app[RUNTIME].definitions.rename(
        principal_of(request), request.match_info["key"], body.id, if_match(request), idempotency_key(request)
    )
    return json_response(result["body"], etag=result["etag"])


async def tag_version(request: web.Request) -> web.Response:
    m = request.match_info
    result = await request.app[RUNTIME].definitions.tag(
        principal_of(request), m["key"], m["selector"], m["tag"], if_match(request), idempotency_key(request)
    )
    return json_response(result["body"], etag=result["etag"])


async def rollback_process(request: web.Request) -> web.Response:
    result = await request.app[RUNTIME].definitions.remove_version(
        principal_of(request), request.match_info["key"], LATEST, if_match(request), idempotency_key(request)
    )
    return _after_removal(result)


async def delete_version_or_tag(request: web.Request) -> web.Response:
    runtime, key, selector = request.app[RUNTIME], request.match_info["key"], request.match_info["selector"]
    who, expected, idem = principal_of(request), if_match(request), idempotency_key(request)
    if selector == ALL:
        result = await runtime.definitions.delete(who, key, expected, idem)
    elif is_version_number(selector) or selector == LATEST:
        result = await runtime.definitions.remove_version(who, key, selector, expected, idem)
    else:
        result = await runtime.definitions.untag(who, key, selector, expected, idem)
    return _after_removal(result)


def _after_removal(result: dict) -> web.Response:
    if result.get("deleted"):
        return web.Response(status=204)
    return json_response(result["body"], etag=result["etag"])


_DEFINITION_ERRORS = (400, 404, 409, 412, 413, 415, 422)
ROUTES = [
    Route("GET", "/api/process", build_info, "Build information for this service", "opendatadsl", role="public", response=BuildInfo),
    Route("GET", BASE, list_processes, "List process configurations (_limit, _skip, _sort, _distinct, field=value)",
          "opendatadsl", response=list[ProcessConfigurationOut], errors=(400,),
          query=("_limit", "_skip", "_sort", "_distinct")),
    Route("POST", BASE, save_process, "Create or update a process configuration", "opendatadsl", role="admin",
          body=ProcessConfigurationIn, response=ProcessConfigurationOut, status=201, errors=_DEFINITION_ERRORS),
    Route("GET", BASE + "/{key}", get_process, "The current configuration, or as it was (asOf)", "opendatadsl",
          response=ProcessConfigurationOut, errors=(400, 404), query=("asOf",)),
    Route("PUT", BASE + "/{key}", rename_process, "Rename a process (body {\"_id\": new key})", "opendatadsl",
          role="admin", body=RenameIn, response=ProcessConfigurationOut, errors=_DEFINITION_ERRORS),
    Route("DELETE", BASE + "/{key}", rollback_process, "Roll back one version (the last one deletes the process)",
          "opendatadsl", role="admin", response=ProcessConfigurationOut, errors=(404, 409, 412)),
    Route("GET", BASE + "/{key}/{selector}", get_version, "A version by number or tag, or the version list (*)",
          "opendatadsl", response=ProcessConfigurationOut | list[VersionEntry], errors=(404,)),
    Route("DELETE", BASE + "/{key}/{selector}", delete_version_or_tag,
          "Delete a version (number), a tag (name) or the whole process (*)", "opendatadsl", role="admin",
          response=ProcessConfigurationOut, errors=(404, 409, 412)),
    Route("PUT", BASE + "/{key}/{selector}/{tag}", tag_version, "Tag a version (the tag moves if used elsewhere)",
          "opendatadsl", role="admin", response=ProcessConfigurationOut, errors=(400, 404, 409, 412, 422)),
]
