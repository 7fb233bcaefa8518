"""Tasks: the processes waiting on this person (or, for an admin, on anyone).

Each row says why it is this person's: assigned to them, to one of their teams, started by
them, or (for an admin) someone else's. What is assigned to the person or their teams comes
first; within each group the oldest change first.
"""

from __future__ import annotations

from aiohttp import web

from infra.tokens import Principal
from services.faces.portal.access import who
from services.faces.portal.render import page
from services.http.app_keys import RUNTIME
from services.instances.access import assigned_to
from services.instances.queries import InstanceFilter, InstanceRow


def why(person: Principal, row: InstanceRow) -> str:
    """Why a waiting process is on this person's list."""
    if assigned_to(person, row.assignment):
        value = row.assignment.get("value")
        return "assigned to you" if value == person.user else f"assigned to your team {value}"
    if row.initiator == person.user:
        return "you started it"
    return "as an admin"


async def tasks_page(request: web.Request) -> web.Response:
    """`GET /ui/tasks`: waiting processes, assigned ones first, oldest change first."""
    person = who(request)
    result = await request.app[RUNTIME].instance_views.page(
        InstanceFilter(visible_to=person, statuses=("waiting",)), sort="updated", descending=False, limit=200,
    )
    rows = [(r, why(person, r)) for r in result.rows]
    rows.sort(key=lambda pair: not pair[1].startswith("assigned"))  # stable: keeps the oldest-first order
    return page(request, "tasks.html", {"rows": rows})
