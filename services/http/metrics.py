"""HTTP request metrics: every request counted by route template (never the raw path), method and status."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from infra import metrics

UNMATCHED = "unmatched"  # 404s and 405s: raw paths would make a label per probe


def route_template(request: web.Request) -> str:
    """The matched route's template (`/api/process/v1/{key}`), or `unmatched`."""
    resource = request.match_info.route.resource
    if resource is None or request.match_info.http_exception is not None:
        return UNMATCHED
    return resource.canonical


@web.middleware
async def metrics_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Observe each request's latency under its route template, method and final status."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as e:
        status = e.status
        raise
    finally:
        metrics.observe_request(route_template(request), request.method, status, time.perf_counter() - started)
