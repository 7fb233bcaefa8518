"""The processes page: every instance from every face, filtered, sorted, paged, updated live."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import orjson
from aiohttp import web

from events.instance_state import InstanceStatus
from services.faces.portal.access import who
from services.faces.portal.render import page
from services.faces.portal.security import Refused
from services.http import sse
from services.http.app_keys import RUNTIME
from services.instances.queries import PORTAL_SORTS, InstanceFilter

PAGE_SIZE = 25
STATUSES = [s.value for s in InstanceStatus]


@dataclass(frozen=True)
class ListQuery:
    """The list's query string, checked: what the filter form and the links carry."""

    statuses: tuple[str, ...]
    definition: str
    initiator: str
    assignee: str
    created_from: str
    created_to: str
    sort: str
    descending: bool
    page: int

    def link(self, **changes: Any) -> str:
        """This list's URL with some parameters changed."""
        values = {**self.__dict__, **changes}
        params: list[tuple[str, str]] = [("status", s) for s in values["statuses"]]
        for name in ("definition", "initiator", "assignee", "created_from", "created_to"):
            if values[name]:
                params.append((name, values[name]))
        params += [("sort", values["sort"]), ("order", "desc" if values["descending"] else "asc")]
        if values["page"] > 1:
            params.append(("page", str(values["page"])))
        return "/ui/processes?" + urlencode(params)

    def sort_link(self, column: str) -> str:
        """The link of a column header: sort by it, or flip the order if it is the sort already."""
        return self.link(sort=column, descending=not self.descending if self.sort == column else True, page=1)


def _moment(raw: str, name: str) -> datetime | None:
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Refused(400, f"{name} must be a date and time like 2025-01-31T14:00, got {raw[:40]!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_query(query: Any) -> ListQuery:
    """The list's parameters from a query string; a bad one is a 400 page saying which."""
    statuses = tuple(s for s in query.getall("status", []) if s)
    if unknown := [s for s in statuses if s not in STATUSES]:
        raise Refused(400, f"unknown status {unknown[0][:40]!r}; known: {', '.join(STATUSES)}")
    sort = query.get("sort", "created")
    if sort not in PORTAL_SORTS:
        raise Refused(400, f"cannot sort by {sort[:40]!r}; choose one of {', '.join(PORTAL_SORTS)}")
    raw_page = query.get("page", "1")
    if not raw_page.isdigit() or not 1 <= int(raw_page) <= 1_000_000:
        raise Refused(400, f"page must be a whole number from 1, got {raw_page[:20]!r}")
    text = {n: query.get(n, "").strip()[:200] for n in ("definition", "initiator", "assignee", "created_from", "created_to")}
    if any("\x00" in v for v in text.values()):
        raise Refused(400, "a filter contains a NUL character")
    for name in ("created_from", "created_to"):
        _moment(text[name], name)
    return ListQuery(statuses, **text, sort=sort, descending=query.get("order", "desc") != "asc", page=int(raw_page))


async def _rows(request: web.Request, q: ListQuery) -> dict[str, Any]:
    where = InstanceFilter(
        visible_to=who(request), statuses=q.statuses, definition=q.definition or None,
        initiator=q.initiator or None, assignee=q.assignee or None,
        created_from=_moment(q.created_from, "created_from"), created_to=_moment(q.created_to, "created_to"),
    )
    result = await request.app[RUNTIME].instance_views.page(
        where, sort=q.sort, descending=q.descending, offset=(q.page - 1) * PAGE_SIZE, limit=PAGE_SIZE,
    )
    pages = max(1, -(-result.total // PAGE_SIZE))
    return {"q": q, "rows": result.rows, "total": result.total, "pages": pages, "statuses": STATUSES,
            "sorts": PORTAL_SORTS, "live_url": "/ui/processes/live?" + request.query_string,
            "table_url": "/ui/processes/table?" + request.query_string}


async def list_page(request: web.Request) -> web.Response:
    """`GET /ui/processes`: the filter form and the first table."""
    return page(request, "processes.html", await _rows(request, parse_query(request.query)))


async def table(request: web.Request) -> web.Response:
    """`GET /ui/processes/table`: the table alone (the live refresh and the filter form's partial update)."""
    return page(request, "processes_table.html", await _rows(request, parse_query(request.query)))


async def live(request: web.Request) -> web.StreamResponse:
    """`GET /ui/processes/live`: a `refresh` event whenever one of this person's processes changes."""
    parse_query(request.query)
    runtime, visible = request.app[RUNTIME], who(request)
    seen = datetime.now(UTC) - timedelta(seconds=1)

    async def fetch(after: int) -> list[sse.Item]:
        nonlocal seen
        changed = await runtime.instance_views.changed_since(visible, seen)
        if changed is None:
            await asyncio.sleep(0.5)  # the projection lags the append signal a little
            changed = await runtime.instance_views.changed_since(visible, seen)
            if changed is None:
                return []
        seen = changed
        return [(after + 1, "refresh", orjson.dumps({"at": changed.isoformat()}))]

    return await sse.stream(request, runtime.instances.append_signal, 0, fetch)
