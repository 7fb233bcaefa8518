"""The two routes Concord and Hackney share, told apart by the request's shape (docs/faces.md).

- `POST /api/v1/process`: a JSON body is Hackney's start (`processName` in the body); a ZIP, an
  octet stream or a multipart form is Concord's upload.
- `POST /api/v1/process/{x}`: `x` with a colon is a Concord entry point (`project:repo:flow`,
  which no definition key can hold), and so is any request with Concord's `?sync=`; anything
  else starts definition `x` as Hackney does.

Each face answers its own way: Concord 200 `{"instanceId", "ok"}`, Hackney 201 with `Location`.

This module is not a face: it only chooses one, so neither face imports the other.
"""

from __future__ import annotations

from aiohttp import web

from contracts.concord import ConcordStarted, UploadForm
from contracts.hackney import HackneyStartBodyIn, HackneyStarted, HackneyStartIn
from services.faces.concord import start as concord
from services.faces.hackney import routes as hackney
from services.http.body import is_json
from services.http.routes import Route

BASE = hackney.BASE


async def start_from_body(request: web.Request) -> web.Response:
    """`POST /api/v1/process`: JSON is Hackney's start; anything else is Concord's upload."""
    if not is_json(request):
        return await concord.start_upload(request)
    return await hackney.start_from_body(request)


async def start_named(request: web.Request) -> web.Response:
    """`POST /api/v1/process/{x}`: a Concord entry point (a colon, or `?sync`) or a Hackney start."""
    if ":" in request.match_info["processName"] or "sync" in request.query:
        return await concord.start_entry_point(request)
    return await hackney.start_named(request)


_ERRORS = (400, 404, 408, 409, 415, 422)  # 408: a Concord start with sync=true that did not settle in time
_ZIP = {"type": "string", "format": "binary"}
# What the bodies' schemas cannot say: what makes an archive one that runs (services/faces/concord/payload.py).
_UPLOAD_RULES = (
    "JSON is Hackney's start: `processName` names a definition (else 404). A ZIP body, or a form with an `archive` "
    "part, is Concord's upload: the archive must be a readable ZIP within the archive limits (else 400, 413) with at "
    "most one flow model (`flow.bpmn` or one `*.bpmn`, `flow.json`, or a Concord project), and something to run: "
    "an `entryPoint` or that model (else 400). An `entryPoint` with a colon names a configuration and cannot come "
    "with the archive's own model (400). `startAt` must carry an offset and not be in the past (400)."
)
# Without a colon it may also name the archive's own flow, any text; empty is as if absent.
_ENTRY_POINT = {"name": "entryPoint", "in": "query", "required": False,
                "schema": {"type": "string", "pattern": "^(?:[^:]*|[^:]+(?::[^:]*){1,2})$"},
                "description": "with a ZIP body: a configuration to run (project:repository:flow, at most "
                               "400 characters), or without a colon a flow of the archive's model"}
# A name with a colon (or any name with `sync`) is a Concord entry point: `project[:repository][:flow]`,
# at most 400 characters (services/faces/concord/payload.py); a longer one names no definition either.
_PROCESS_NAME = {"name": "processName", "in": "path", "required": True,
                 "schema": {"type": "string", "pattern": "^[^:/]+(?::[^:/]*){0,2}$", "maxLength": 400}}
ROUTES = [
    Route("POST", BASE, start_from_body, "Start a process (JSON with processName; a ZIP or a form is Concord's)",
          "hackney", body=HackneyStartBodyIn, other_bodies=(("multipart/form-data", UploadForm), ("application/zip", _ZIP),
                                                            ("application/octet-stream", _ZIP)),
          response=HackneyStarted, status=201, errors=(*_ERRORS, 413), query=("startAt", "sync"),
          parameters=(_ENTRY_POINT,), also=((200, ConcordStarted),), description=_UPLOAD_RULES),
    Route("POST", BASE + "/{processName}", start_named, "Start a process of a definition", "hackney",
          body=HackneyStartIn, response=HackneyStarted, status=201, errors=_ERRORS, query=("sync",),
          parameters=(_PROCESS_NAME,), also=((200, ConcordStarted),),
          description="`processName` with a colon (`project:repository:flow`), or any request with `sync`, is a "
                      "Concord entry point (200); anything else starts the definition `processName` names, as "
                      "Hackney does (201)."),
]
