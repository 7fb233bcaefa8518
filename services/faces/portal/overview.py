"""The overview: counts by status, runs per hour over the last day, recent failures, the next scheduled starts."""

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
    runtime, visible, now = request.app[RUNTIME], who(request), datetime.now(UTC)
    views = runtime.instance_views
    hours = await views.runs_per_hour(visible, now - timedelta(hours=23))
    peak = max((n for _, n in hours), default=0) or 1
    bars = [(hour, n, round(n / peak * CHART_HEIGHT)) for hour, n in hours]
    failures = await views.page(InstanceFilter(visible_to=visible, statuses=("failed",)), sort="updated", limit=5)
    counts = await views.counts_by_status(visible)
    return page(request, "overview.html", {
        "counts": counts, "bars": bars, "chart_height": CHART_HEIGHT,
        "failures": failures.rows, "total_runs": sum(n for _, n in hours),
        # Definitions (and so their schedules) are everyone's to see; scheduled runs only the person's own.
        "upcoming": await runtime.schedule_views.upcoming(now), "scheduled_runs": counts.get("scheduled", 0),
    })
