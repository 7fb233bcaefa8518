"""Routes that belong to no face: health, the OpenAPI document and its page."""

from __future__ import annotations

from aiohttp import web

from services.http.headers import json_response
from services.http.openapi import render_page
from services.http.routes import Route
from services.http.app_keys import OPENAPI
from services.http.context import request_context


async def healthz(request: web.Request) -> web.Response:
    try:
        await request_context(request).runtime.ping()
    except Exception:  # noqa: BLE001 - any database failure means not healthy
        return json_response({"status": "unavailable"}, status=503)
    return json_response({"status": "ok"})


async def openapi_document(request: web.Request) -> web.Response:
    return json_response(request.app[OPENAPI])


async def openapi_page(request: web.Request) -> web.Response:
    return web.Response(text=render_page(request.app[OPENAPI]), content_type="text/html")


ROUTES = [
    Route("GET", "/healthz", healthz, "200 once the service can serve", "system", role="public",
          response={"type": "object", "properties": {"status": {"type": "string"}}}, errors=(503,)),
    Route("GET", "/api/openapi.json", openapi_document, "This OpenAPI 3.1 document", "system", role="public",
          response={"type": "object"}),
    Route("GET", "/api/docs", openapi_page, "A page that renders the OpenAPI document", "system", role="public",
          response={"type": "string"}, response_media="text/html"),
]
