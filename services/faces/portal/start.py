"""Concord's portal link from a plain browser: `/ui/start?entryPoint=…&param=…`.

Concord's `GET /api/service/process_portal/start` without a token lands here (the guard
sends a stranger through sign-in first). Starting is a state change, so it is confirmed with
one click on a CSRF-protected form (a link from another site cannot start a process alone);
then the process page walks the person through each form or task it waits on.
"""

from __future__ import annotations

from aiohttp import web

from services.faces.portal.access import who
from services.faces.portal.render import page
from services.faces.portal.security import Refused
from services.http.app_keys import RUNTIME
from services.scripts.commands import StartProcess


def _entry_point(raw: object) -> tuple[str, str | None, str | None]:
    """`key`, or Concord's `key:version-or-tag:flow` (the flow is the start event)."""
    if not isinstance(raw, str) or not raw.strip():
        raise Refused(400, "entryPoint is required: the key of the process to start.")
    key, selector, flow = (raw.split(":", 2) + [None, None])[:3]
    return key, selector or None, flow or None


async def confirm(request: web.Request) -> web.Response:
    """`GET /ui/start`: what will start, and the button that starts it."""
    key, _, _ = _entry_point(request.query.get("entryPoint"))
    await request.app[RUNTIME].definition_views.current(key)  # 404 for an unknown process, before the button
    arguments = [(k, v) for k, v in request.query.items() if k != "entryPoint"]
    return page(request, "start.html", {"entry_point": request.query["entryPoint"], "arguments": arguments})


async def start(request: web.Request) -> web.StreamResponse:
    """`POST /ui/start`: start it, then follow it on its page."""
    form = await request.post()
    key, selector, flow = _entry_point(form.get("entryPoint"))
    arguments = {k.removeprefix("arg."): v for k, v in form.items() if k.startswith("arg.") and isinstance(v, str)}
    result = await request.app[RUNTIME].scripts.start(
        who(request), StartProcess(definition=key, selector=selector, arguments=arguments, start_event=flow),
    )
    raise web.HTTPSeeOther(f"/ui/processes/{result.id}")
