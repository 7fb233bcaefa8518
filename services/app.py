"""The aiohttp app factory: middlewares, the route table of every face, and the runtime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from importlib import metadata

from aiohttp import web

from infra import metrics
from infra.aio import background
from infra.settings import Settings
from services.bootstrap import runtime
from services.faces.altinn import routes as altinn
from services.faces import dispatch
from services.faces.audit import routes as audit
from services.faces.concord import routes as concord
from services.faces.dspace import routes as dspace
from services.faces.hackney import routes as hackney
from services.faces.instance_feed import routes as instance_feed
from services.faces.opendatadsl import routes as opendatadsl
from services.faces.portal import routes as portal
from services.faces.portal.security import portal_middleware
from services.faces.operations import routes as operations
from services.faces.system import routes as system
from services.http.auth import auth_middleware
from services.http.openapi import build_document
from services.http.problems import problem_middleware
from services.http.metrics import metrics_middleware
from services.http.request_log import request_id_middleware, request_log_middleware, send_request_id
from services.http.trailing_slash import trailing_slash_middleware
from services.http.routes import Route
from services.http.app_keys import OPENAPI, ROUTE_SPECS, RUNTIME, STOPPING, WORKERS
from services.operations.lifecycle import Workers, begin_shutdown, finish_draining, sample_forever
from services.publishing.relay import running_relay
from services.scheduling.scheduler import running_scheduler
from services.scripts.worker import running_script_worker

ROUTES: list[Route] = [
    *system.ROUTES, *operations.ROUTES, *audit.ROUTES, *opendatadsl.ROUTES, *dispatch.ROUTES, *hackney.ROUTES,
    *altinn.ROUTES,
    *instance_feed.ROUTES, *concord.ROUTES, *dspace.ROUTES,
]


def create_app(settings: Settings) -> web.Application:
    """A ready-to-run application; the database and workers open when it starts."""
    middlewares = [problem_middleware, portal_middleware, auth_middleware]
    if settings.log_requests:
        middlewares.insert(0, request_log_middleware)
    middlewares[:0] = [request_id_middleware, metrics_middleware]
    # Outermost: a GET with one trailing slash is dispatched again, whole, as the path without it.
    middlewares.insert(0, trailing_slash_middleware)
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=middlewares)
    app[STOPPING] = asyncio.Event()
    app[WORKERS] = Workers()
    app.on_response_prepare.append(send_request_id)
    app.on_shutdown.append(begin_shutdown)
    app[ROUTE_SPECS] = {}
    for route in ROUTES:
        registered = app.router.add_route(route.method, route.path, route.handler)
        app[ROUTE_SPECS][registered] = route
    app[OPENAPI] = build_document(ROUTES, metadata.version("procession"))
    portal.install(app)  # pages for people, outside the API's route table and OpenAPI

    async def runtime_ctx(app: web.Application) -> AsyncIterator[None]:
        async with runtime(settings) as rt:
            app[RUNTIME] = rt
            async with running_relay(rt.store, settings) as app[WORKERS].relay, \
                    background(sample_forever(app), "metrics-sampler"):
                yield
        metrics.process_exited()

    async def workers_ctx(app: web.Application) -> AsyncIterator[None]:
        # After the runtime (and closed before it): the script worker and the scheduler.
        if not settings.run_workers:
            yield
            return
        rt, workers = app[RUNTIME], app[WORKERS]
        async with running_script_worker(rt) as workers.script_worker, running_scheduler(rt) as workers.scheduler:
            yield
            await finish_draining(workers)

    app.cleanup_ctx.append(runtime_ctx)
    app.cleanup_ctx.append(workers_ctx)
    return app
