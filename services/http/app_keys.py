"""Typed application and request keys, all in one place."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from infra.tokens import Principal
    from services.bootstrap import Runtime
    from services.operations.lifecycle import Workers

RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime")
ROUTE_SPECS: web.AppKey[dict[Any, Any]] = web.AppKey("route_specs", dict)
# (the second AppKey argument is only its type; the app factory sets the values)
OPENAPI: web.AppKey[dict[str, Any]] = web.AppKey("openapi", dict)
PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal")
# Whether the token or portal session a request came with is still valid (open streams ask it again).
STILL_ALLOWED: web.RequestKey[Callable[[], Awaitable[bool]]] = web.RequestKey("still_allowed")
REQUEST_ID_KEY: web.RequestKey[str] = web.RequestKey("request_id", str)
# Operations: the background workers of this process, and the flag set when it starts shutting down.
WORKERS: web.AppKey[Workers] = web.AppKey("workers")
STOPPING: web.AppKey[asyncio.Event] = web.AppKey("stopping", asyncio.Event)
