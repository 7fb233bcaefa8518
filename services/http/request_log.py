"""Structured request logging: one JSON line per request."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from services.http.app_keys import PRINCIPAL

log = logging.getLogger("procession.requests")


class JsonFormatter(logging.Formatter):
    """Log records as JSON objects, with any `extra` fields kept."""

    _SKIP = set(vars(logging.makeLogRecord({})))

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in self._SKIP})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


@web.middleware
async def request_log_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Log method, path, status, duration and caller of every request."""
    started = time.perf_counter()
    request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-Id"] = request_id
        return response
    except web.HTTPException as e:
        status = e.status
        raise
    finally:
        if log.isEnabledFor(logging.INFO):
            principal = request.get(PRINCIPAL)
            log.info(
                "request",
                extra={
                    "method": request.method, "path": request.path, "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                    "user": principal.user if principal else None, "request_id": request_id,
                },
            )
