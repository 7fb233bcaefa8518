"""Tasks: the processes waiting on this person (or, for an admin, on anyone)."""

from __future__ import annotations

from aiohttp import web

from services.faces.portal.access import who
from services.faces.portal.render import page
from services.http.app_keys import RUNTIME
from services.instances.queries import InstanceFilter


async def tasks_page(request: web.Request) -> web.Response:
    """`GET /ui/tasks`: waiting processes, oldest change first."""
    result = await request.app[RUNTIME].instance_views.page(
        InstanceFilter(visible_to=who(request), statuses=("waiting",)), sort="updated", descending=False, limit=200,
    )
    return page(request, "tasks.html", {"rows": result.rows})
