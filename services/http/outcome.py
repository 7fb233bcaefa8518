"""A request's outcome as middlewares report it: the status it ended with and how long it took."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def observed(request: web.Request, handler: Handler, report: Callable[[int, float], None]) -> web.StreamResponse:
    """Run the handler; then `report(status, seconds)`, also when it raised (an HTTP exception's
    status, else 500: the problem middleware outside turns it into that)."""
    started, status = time.perf_counter(), 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as e:
        status = e.status
        raise
    finally:
        report(status, time.perf_counter() - started)
