"""The Concord face: start from a ZIP, a form or an entry point; status, kill, wait, log.

This module is the face's route table; the handlers are in `start.py` (the starts: the two upload
routes are shared with Hackney and dispatched by `services/faces/dispatch.py`), `upload.py` (reading
an upload), `process.py` (one process's reads), `project.py` and `forms.py` (Concord projects).

Choices where the document is thin or wrong (see docs/faces.md, and `payload.py` for what an
upload runs):
- Starting: `POST /api/v1/process` with `application/octet-stream`, `application/zip` or
  `multipart/form-data` is this face; `POST /api/v1/process/{entryPoint}` with a colon in the
  entry point (or with `?sync`) is this face too (a bare name is Hackney's start, which stays
  Hackney's 201). Every Concord start (ZIP, form, entry point, the portal called with a token)
  answers as the document shows: 200 with `{"instanceId": ..., "ok": true}` (and `status` with
  `sync`), no `Location` (issue 9; another face's URL is not Concord's to give).
  An upload naming a flow (start event) may carry files and `startAt` like any other.
- Every route starts through the same command (`StartProcess`), so the same definition gets the
  same arguments: the configuration's `input` defaults, and a script's parameter checks (422).
- A `request` part sent as a plain text field (`-F request='{...}'`) is read as JSON like a
  JSON or file part. `activeProfiles` (comma-separated, or a list in JSON) from a form field,
  `request.json` or the JSON entry-point body is recorded on the instance and shown in its
  status as `activeProfiles`; for a Concord project it also selects profiles, for any other
  model it is only recorded.
- `sync=true` (query, or a form part) is kept, as the document asks (real Concord removed it):
  the request waits until the process ends or waits on a person, at most `max_wait_seconds`;
  past that it is 408 with the process entry in the problem's `process` member. A process that
  fails under `sync` is still a 201 whose `status` says FAILED (the start itself succeeded).
- `waitForCompletion?timeout=` is in milliseconds (absent or negative: the server limit, which
  also caps it); it waits for FINISHED, FAILED, CANCELLED or TIMED_OUT like real Concord, and
  answers 408 with the entry in `process` (an RFC 9457 problem, not Concord's bare entry).
- `DELETE /api/v1/process/{id}` kills and answers 204; killing a finished process is a no-op.
  `If-Match` (the status's ETag) is honoured: a stale one is 412, as on every write of the house
  (Hackney's 409 is its own document's word), also on a finished process.
- The log is `text/plain; charset=utf-8` (the document; real Concord sends octet-stream), one
  line per output line: `<ISO time> <stream> <text>`. Range is RFC 9110: 206 with
  `Content-Range`, 416 with `bytes */size`; the ETag is a digest of the log, for `If-Range`.
  The log grows while the process runs: re-request `bytes=<size>-` to follow it.
- `GET /api/v1/process/{id}/subprocess` lists the processes started for this one (the handler
  processes of `onFailure`, `onCancel`, `onTimeout`), each as its status entry (`kind`,
  `parentInstanceId`), those the caller may see.
- Attachments are the process's files (inputs and outputs). The list is a JSON array of names
  (real Concord); a file is `GET` (real) or `POST` (the document) `…/attachment/{name}`, with
  Range; a name ending in `/` is 400, as in real Concord.
- The portal `GET /api/service/process_portal/start?entryPoint=…&param=…` starts the process
  (the query's other parameters are its arguments). Called with a token it is an API call and
  answers like every start (200, `instanceId`, `ok`); a browser without one is sent (303) to
  the portal's pages. `…/process_portal/process/{id}` is a plain HTML page with the
  definition's start form and the process's status.
- A user sees the processes they started or that are assigned to them or their teams; an admin
  sees all. Another user's process is 404, as if it did not exist (the one rule of every face).
- Concord projects (`concord.yml`): `project.py` refuses at start what cannot run here;
  `forms.py` holds the form API and the `resume` route; a flow's own log lines read
  `<ISO time> [INFO ] <text>` (`[ERROR]` for the failure), as Concord's do.
"""

from __future__ import annotations

from services.faces.concord.process import (
    get_attachment, get_log, get_process, kill_process, list_attachments, list_subprocesses, portal_page_view,
    wait_for_completion,
)
from services.faces.concord.forms import get_form, list_forms, resume_event, submit_form
from services.faces.concord.payload import ENTRY_POINT_SCHEMA
from services.faces.concord.render import BASE, PORTAL
from services.faces.concord.start import portal_start
from contracts.concord import ConcordStarted
from services.http.routes import Route

ONE = BASE + "/{id}"

_ENTRY = {"type": "object", "properties": {"instanceId": {"type": "string"}, "status": {"type": "string"}}}
_TEXT, _BYTES = {"type": "string"}, {"type": "string", "format": "binary"}
_ONE_ERRORS = (400, 404)
_FORM = {"type": "object", "properties": {"name": {"type": "string"}, "fields": {"type": "array"}}}
_SUBMITTED = {"type": "object", "properties": {"ok": {"type": "boolean"}, "errors": {"type": "object"}}}
_VALUES = {"type": "object", "description": "the form's field values by name (a multipart form's file parts are files)"}
ROUTES = [
    Route("GET", ONE + "/form", list_forms, "The forms a process waits on (Concord)", "concord",
          response={"type": "array"}, errors=_ONE_ERRORS),
    Route("GET", ONE + "/form/{formName}", get_form, "A waiting form's fields and values (Concord)", "concord",
          response=_FORM, errors=_ONE_ERRORS),
    Route("POST", ONE + "/form/{formName}", submit_form, "Submit a form (JSON or multipart); the process runs on",
          "concord", body=_VALUES,
          other_bodies=(("multipart/form-data", {**_VALUES, "minProperties": 1}), ("application/x-www-form-urlencoded", _VALUES)),
          response=_SUBMITTED, errors=(400, 404, 408, 409, 413, 415), query=("sync",),
          description="The values are checked against the waiting form's fields: a wrong one is 200 with `ok` false "
                      "and the `errors` by field."),
    Route("POST", ONE + "/resume/{eventName}", resume_event, "Resume a flow waiting in a suspend step (Concord)",
          "concord", response={"type": "object"}, errors=(400, 404, 409)),
    Route("GET", ONE, get_process, "A process's status (Concord)", "concord", response=_ENTRY, errors=_ONE_ERRORS),
    Route("DELETE", ONE, kill_process, "Forcefully stop a process; the record stays; If-Match (Concord)", "concord",
          status=204, errors=(400, 404, 412)),
    Route("GET", ONE + "/waitForCompletion", wait_for_completion, "Wait until a process is over (timeout in ms)",
          "concord", response=_ENTRY, errors=(400, 404, 408), query=("timeout",)),
    Route("GET", ONE + "/log", get_log, "A process's log; Range: bytes=a-b, a-, -n", "concord", response=_TEXT,
          response_media="text/plain", errors=(400, 404, 416)),
    Route("GET", ONE + "/subprocess", list_subprocesses, "The processes started for a process: its onFailure, onCancel "
          "and onTimeout handlers' (Concord)", "concord", response={"type": "array", "items": _ENTRY}, errors=_ONE_ERRORS),
    Route("GET", ONE + "/attachment", list_attachments, "The names of a process's attachments", "concord",
          response={"type": "array", "items": _TEXT}, errors=_ONE_ERRORS),
    Route("GET", ONE + "/attachment/{name:.+}", get_attachment, "Download an attachment (Range)", "concord",
          response=_BYTES, response_media="application/octet-stream", errors=(400, 404, 416)),
    Route("POST", ONE + "/attachment/{name:.+}", get_attachment, "Download an attachment (the document's POST)",
          "concord", response=_BYTES, response_media="application/octet-stream", errors=(400, 404, 416)),
    Route("GET", PORTAL + "/start", portal_start, "Start (with a token: 200 instanceId; a browser: the portal)", "concord",
          role="browser", response=ConcordStarted, errors=(400, 404, 409, 422), query=(("entryPoint", ENTRY_POINT_SCHEMA),), also=((303, None),)),
    Route("GET", PORTAL + "/process/{id}", portal_page_view, "A process's page: start form and status", "concord",
          role="browser", response=_TEXT, response_media="text/html", errors=_ONE_ERRORS),
]
