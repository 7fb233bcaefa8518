"""The overview: counts by status, runs per hour over the last day, recent failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web

from services.faces.portal.access import who
from services.faces.portal.render import page
from services.http.app_keys import RUNTIME
from services.instances.queries import InstanceFilter

CHART_HEIGHT = 80


async def overview(request: web.Request) -> web.Response:
    """`GET /ui/`."""
    views, visible = request.app[RUNTIME].instance_views, who(request)
    hours = await views.runs_per_hour(visible, datetime.now(UTC) - timedelta(hours=23))
    peak = max((n for _, n in hours), default=0) or 1
    bars = [(hour, n, round(n / peak * CHART_HEIGHT)) for hour, n in hours]
    failures = await views.page(InstanceFilter(visible_to=visible, statuses=("failed",)), sort="updated", limit=5)
    return page(request, "overview.html", {
        "counts": await views.counts_by_status(visible), "bars": bars, "chart_height": CHART_HEIGHT,
        "failures": failures.rows, "total_runs": sum(n for _, n in hours),
    })
