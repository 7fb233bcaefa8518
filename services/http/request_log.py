"""Request ids and structured request logging: one JSON line per request."""

from __future__ import annotations

import logging
import uuid

from aiohttp import web

from infra.logs import REQUEST_ID, JsonFormatter
from services.http.app_keys import PRINCIPAL, REQUEST_ID_KEY
from services.http.outcome import Handler, observed

__all__ = ["JsonFormatter", "request_id_middleware", "request_log_middleware", "send_request_id"]
log = logging.getLogger("procession.requests")
_MAX_ID = 128


def _accepted(value: str | None) -> str | None:
    """A caller's X-Request-Id, if it is short printable ASCII without spaces (it goes into logs)."""
    if value and len(value) <= _MAX_ID and value.isascii() and value.isprintable() and " " not in value:
        return value
    return None


@web.middleware
async def request_id_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Take the caller's X-Request-Id (or make one), log under it, and send it back."""
    request_id = _accepted(request.headers.get("X-Request-Id")) or uuid.uuid4().hex
    request[REQUEST_ID_KEY] = request_id
    token = REQUEST_ID.set(request_id)
    try:
        return await handler(request)
    finally:
        REQUEST_ID.reset(token)


async def send_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """Every response, streamed or not, error or not, carries the request's id."""
    if (request_id := request.get(REQUEST_ID_KEY)) is not None:
        response.headers["X-Request-Id"] = request_id


@web.middleware
async def request_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Log method, path, status, duration and caller of every request."""

    def report(status: int, seconds: float) -> None:
        if log.isEnabledFor(logging.INFO):
            principal = request.get(PRINCIPAL)
            log.info(
                "request",
                extra={
                    "method": request.method, "path": request.path, "status": status,
                    "ms": round(seconds * 1000, 2), "user": principal.user if principal else None,
                },
            )

    return await observed(request, handler, report)
