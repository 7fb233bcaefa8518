"""The portal's route table and its installation into the app."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from services.faces.portal import audit, definition_admin, definitions, overview, process, processes, render, sign_in, start, tasks
from services.faces.portal.security import SIGN_IN, STATIC, UI

STATIC_DIR = Path(__file__).with_name("static")


async def _to_home(_request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(UI + "/")


async def _favicon(_request: web.Request) -> web.StreamResponse:
    # Browsers ask for /favicon.ico on any page that names no icon (the API docs, a JSON
    # answer): the portal's icon as ICO, with the static files' ETag and Last-Modified.
    return web.FileResponse(STATIC_DIR / "favicon.ico")


ROUTES: list[tuple[str, str, render.Handler]] = [
    ("GET", SIGN_IN, sign_in.sign_in_page),
    ("POST", SIGN_IN, sign_in.sign_in),
    ("POST", UI + "/sign-out", sign_in.sign_out),
    ("GET", UI, _to_home),
    ("GET", UI + "/", overview.overview),
    ("GET", UI + "/processes", processes.list_page),
    ("GET", UI + "/processes/table", processes.table),
    ("GET", UI + "/processes/live", processes.live),
    ("GET", UI + "/processes/{id}", process.process_page),
    ("GET", UI + "/processes/{id}/summary", process.summary),
    ("GET", UI + "/processes/{id}/live", process.live),
    ("GET", UI + "/processes/{id}/log.txt", process.log_text),
    ("GET", UI + "/processes/{id}/files/{name:.+}", process.download),
    ("POST", UI + "/processes/{id}/stop", process.stop),
    ("POST", UI + "/processes/{id}/retry", process.retry),
    ("POST", UI + "/processes/{id}/delete", process.delete),
    ("POST", UI + "/processes/{id}/task", process.act),
    ("POST", UI + "/processes/{id}/form", process.submit_form),
    ("POST", UI + "/processes/{id}/resume", process.resume),
    ("GET", UI + "/tasks", tasks.tasks_page),
    ("GET", UI + "/definitions", definitions.list_page),
    ("GET", UI + "/definitions/{key}", definitions.definition_page),
    ("POST", UI + "/definitions/{key}/start", definitions.start),
    ("POST", UI + "/definitions/{key}/tag", definition_admin.tag),
    ("POST", UI + "/definitions/{key}/untag", definition_admin.untag),
    ("POST", UI + "/definitions/{key}/rollback", definition_admin.rollback),
    ("GET", UI + "/audit", audit.audit_page),
    ("GET", UI + "/audit/live", audit.live),
    ("POST", UI + "/audit/verify", audit.verify),
    ("GET", UI + "/audit/verify/progress", audit.verify_progress),
    ("GET", UI + "/audit/export.ndjson", audit.export),
    ("GET", UI + "/start", start.confirm),
    ("POST", UI + "/start", start.start),
]


def install(app: web.Application) -> None:
    """Templates, static files and pages; the guard is `security.portal_middleware`."""
    render.setup(app)
    app.router.add_static(STATIC, STATIC_DIR, append_version=False)
    app.router.add_get("/favicon.ico", _favicon)
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
