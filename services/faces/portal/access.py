"""Who may see and act on what: the API's one rule (services/instances/access.py).

A person sees the processes they started or that are assigned to them or their teams; an
admin sees all. Another person's process is answered as if it did not exist (404).
"""

from __future__ import annotations

from aiohttp import web

from events.instance import ProcessInstance
from infra.tokens import Principal
from services.http.app_keys import PRINCIPAL, RUNTIME


def who(request: web.Request) -> Principal:
    """The signed-in person."""
    return request[PRINCIPAL]


async def visible_instance(request: web.Request, instance_id: str | None = None) -> ProcessInstance:
    """The process named in the path, if this person may see it (NotFound, a 404 page, otherwise)."""
    return await request.app[RUNTIME].instances.visible(who(request), instance_id or request.match_info["id"])
