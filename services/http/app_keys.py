"""Typed application and request keys, all in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from infra.tokens import Principal
    from services.bootstrap import Runtime

RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime")
ROUTE_SPECS: web.AppKey[dict[Any, Any]] = web.AppKey("route_specs", dict)
# (the second AppKey argument is only its type; the app factory sets the values)
OPENAPI: web.AppKey[dict[str, Any]] = web.AppKey("openapi", dict)
PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal")
