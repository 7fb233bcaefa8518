"""The portal's route table and its installation into the app."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from services.faces.portal import overview, render, sign_in
from services.faces.portal.security import SIGN_IN, STATIC, UI

async def _to_home(_request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(UI + "/")


ROUTES: list[tuple[str, str, render.Handler]] = [
    ("GET", SIGN_IN, sign_in.sign_in_page),
    ("POST", SIGN_IN, sign_in.sign_in),
    ("POST", UI + "/sign-out", sign_in.sign_out),
    ("GET", UI, _to_home),
    ("GET", UI + "/", overview.overview),
]


def install(app: web.Application) -> None:
    """Templates, static files and pages; the guard is `security.portal_middleware`."""
    render.setup(app)
    app.router.add_static(STATIC, Path(__file__).with_name("static"), append_version=False)
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
