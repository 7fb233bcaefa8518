"""Who may see and act on what: the API's rule (a person's own processes; an admin all of them)."""

from __future__ import annotations

from aiohttp import web

from events.instance import ProcessInstance
from infra.tokens import Principal
from services.faces.portal.security import Refused
from services.http.app_keys import PRINCIPAL, RUNTIME


def who(request: web.Request) -> Principal:
    """The signed-in person."""
    return request[PRINCIPAL]


def own_only(principal: Principal) -> str | None:
    """The user whose processes a list shows (None: an admin sees everyone's)."""
    return None if principal.is_admin else principal.user


async def visible_instance(request: web.Request, instance_id: str | None = None) -> ProcessInstance:
    """The process named in the path, if this person may see it (404 / 403 otherwise)."""
    instance = await request.app[RUNTIME].instances.get(instance_id or request.match_info["id"])
    principal = who(request)
    if not principal.is_admin and instance.initiator != principal.user:
        raise Refused(403, "This process belongs to another user.")
    return instance
