"""Routes for operators: readiness and metrics (liveness is `/healthz`)."""

from __future__ import annotations

import hmac

from aiohttp import web

from infra.metrics import CONTENT_TYPE
from services.http.auth import bearer_token
from services.http.headers import json_response
from services.http.problems import ProblemError
from services.http.routes import Route
from services.http.app_keys import RUNTIME, WORKERS
from services.operations.scrape import scrape
from services.operations.readiness import not_ready, warnings

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="procession"'}


async def readyz(request: web.Request) -> web.Response:
    workers = request.app[WORKERS]
    reasons = await not_ready(request.app[RUNTIME], workers.relay, workers.relay_watch)
    notes = warnings(workers.relay)
    if reasons:
        raise ProblemError(503, "; ".join(reasons), title="Not ready", errors=reasons, warnings=notes)
    return json_response({"status": "ready", "warnings": notes})


async def metrics(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    token = bearer_token(request)
    if token is None:
        raise ProblemError(401, "an Authorization header with an admin or metrics token is required",
                           headers=_CHALLENGE)
    expected = runtime.settings.metrics_token
    if not (expected and hmac.compare_digest(token.encode(), expected.encode())):
        principal = await runtime.tokens.principal(token) if token.isascii() and token.isprintable() else None
        if principal is None:
            raise ProblemError(401, "the token is not valid", headers=_CHALLENGE)
        if not principal.is_admin:
            raise ProblemError(403, "metrics need the admin role or the metrics token")
    return web.Response(body=await scrape(runtime), headers={"Content-Type": CONTENT_TYPE})


ROUTES = [
    Route("GET", "/readyz", readyz, "200 when this process should get traffic; 503 naming what is not ready",
          "system", role="public",
          response={"type": "object", "properties": {"status": {"type": "string"},
                                                     "warnings": {"type": "array", "items": {"type": "string"}}}},
          errors=(503,)),
    # Public to the auth middleware: the handler takes an admin token or the separate metrics token.
    Route("GET", "/metrics", metrics, "Prometheus metrics (admin token or the metrics token)", "system",
          role="public", response={"type": "string"}, response_media="text/plain", errors=(401, 403)),
]
