"""The overview: counts by status, runs per hour over the last day, recent failures, next starts."""

from __future__ import annotations

from aiohttp import web

from services.faces.portal.render import page


async def overview(request: web.Request) -> web.Response:
    """`GET /ui/`."""
    return page(request, "overview.html", {})
