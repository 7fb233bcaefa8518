"""The portal's error page: what went wrong, in words, with a way back."""

from __future__ import annotations

from http import HTTPStatus

from aiohttp import web

from services.faces.portal.render import page


def error_page(request: web.Request, status: int, detail: str) -> web.Response:
    """An HTML page (or, for a partial update, a fragment) saying why the request failed."""
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    template = "error_fragment.html" if "HX-Request" in request.headers else "error.html"
    return page(request, template, {"status": status, "title": title, "detail": detail}, status=status)
