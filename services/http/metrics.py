"""HTTP request metrics: every request counted by route template (never the raw path), method and status."""

from __future__ import annotations

from aiohttp import web

from infra import metrics
from services.http.outcome import Handler, observed

UNMATCHED = "unmatched"  # 404s and 405s: raw paths would make a label per probe


def route_template(request: web.Request) -> str:
    """The matched route's template (`/api/process/v1/{key}`), or `unmatched`."""
    resource = request.match_info.route.resource
    if resource is None or request.match_info.http_exception is not None:
        return UNMATCHED
    return resource.canonical


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Observe each request's latency under its route template, method and final status."""
    return await observed(request, handler, lambda status, seconds: metrics.observe_request(
        route_template(request), request.method, status, seconds))
