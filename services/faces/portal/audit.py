"""The audit page (admins): the global event feed, filtered and followed live; `verify`; the export.

The same lines as the audit API and `procession events export` (services/audit/log.py); a
person without the admin role is refused with 403, as the API refuses them.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import orjson
from aiohttp import web

from services.faces.portal.access import who
from services.faces.portal.render import page
from services.faces.portal.security import HEADERS, Refused
from services.http import sse
from services.http.app_keys import RUNTIME, STOPPING
from services.http.params import integer

PAGE = 100
_SCAN_BATCH = 1000
_SCAN_BATCHES = 20  # a filtered page reads at most this many batches, then offers "next"
MAX_POSITION = 2**63 - 1


@dataclass(frozen=True)
class AuditFilter:
    """Which lines the page shows: one aggregate and/or event types containing a word."""

    aggregate: UUID | None
    type: str

    def matches(self, line: dict[str, Any]) -> bool:
        if self.aggregate is not None and line["originator_id"] != str(self.aggregate):
            return False
        return not self.type or self.type.lower() in line["type"].lower()

    @property
    def active(self) -> bool:
        return self.aggregate is not None or bool(self.type)


def _admin(request: web.Request) -> None:
    if not who(request).is_admin:
        raise Refused(403, "The audit log is for admins only.")


def parse_filter(query: Any) -> AuditFilter:
    """The filter from the query string (a malformed aggregate id is a 400 page)."""
    raw = query.get("aggregate", "").strip()
    try:
        aggregate = UUID(raw) if raw else None
    except ValueError:
        raise Refused(400, f"aggregate must be an id (a UUID), got {raw[:60]!r}") from None
    return AuditFilter(aggregate, query.get("type", "").strip()[:200])


def _short(line: dict[str, Any]) -> dict[str, Any]:
    """What a row shows (the state stays in the export: it can be large)."""
    return {k: line[k] for k in ("position", "originator_id", "originator_version", "type", "recorded_at")}


async def _scan(request: web.Request, after: int, wanted: AuditFilter) -> tuple[list[dict[str, Any]], int]:
    """Up to PAGE matching lines after a position, and the position the scan reached."""
    audit = request.app[RUNTIME].audit
    found: list[dict[str, Any]] = []
    for _ in range(_SCAN_BATCHES):
        batch = await audit.lines_after(after, _SCAN_BATCH if wanted.active else PAGE)
        for line in batch:
            after = line["position"]
            if wanted.matches(line):
                found.append(_short(line))
                if len(found) == PAGE:
                    return found, after
        if not wanted.active or len(batch) < _SCAN_BATCH:
            break
    return found, after


async def audit_page(request: web.Request) -> web.Response:
    """`GET /ui/audit?aggregate=&type=&after=`: a page of the feed (the newest by default) and its live tail."""
    _admin(request)
    wanted = parse_filter(request.query)
    last = await request.app[RUNTIME].audit.last_position()
    default = 0 if wanted.active else max(0, last - PAGE)
    after = integer(request.query.get("after") or None, "after", default=default, maximum=MAX_POSITION)
    lines, reached = await _scan(request, after, wanted)
    filters = {"aggregate": str(wanted.aggregate or ""), "type": wanted.type}
    return page(request, "audit.html", {
        "lines": lines, "filters": filters, "after": after, "reached": reached, "last": last,
        "more": reached < last, "verdict": None,
        "next_url": "/ui/audit?" + urlencode({"after": reached, **filters}),
        "live_url": "/ui/audit/live?" + urlencode({"after": last, **filters}),
    })


async def live(request: web.Request) -> web.StreamResponse:
    """`GET /ui/audit/live?after=&aggregate=&type=`: each new matching line as an `audit` event."""
    _admin(request)
    wanted = parse_filter(request.query)
    audit = request.app[RUNTIME].audit

    async def fetch(after: int) -> list[sse.Item]:
        lines = await audit.lines_after(after)
        items = [(line["position"], "audit", orjson.dumps(_short(line))) for line in lines if wanted.matches(line)]
        if lines and not items:
            # Nothing matched: still move on, with a comment-free no-op the client ignores.
            items.append((lines[-1]["position"], "skip", b"{}"))
        return items

    return await sse.stream(request, audit.append_signal, sse.resume_point(request), fetch)


async def verify(request: web.Request) -> web.Response:
    """`POST /ui/audit/verify`: check the hash chain and show the verdict (the no-script path)."""
    _admin(request)
    verdict = await request.app[RUNTIME].audit.verify()
    last = await request.app[RUNTIME].audit.last_position()
    return page(request, "audit.html", {
        "lines": [], "filters": {"aggregate": "", "type": ""}, "after": last, "reached": last, "last": last,
        "more": False, "verdict": _verdict(verdict), "next_url": "", "live_url": f"/ui/audit/live?after={last}",
    })


def _verdict(verdict: Any) -> dict[str, Any]:
    broken = verdict.broken_at
    return {"intact": verdict.intact, "checked": verdict.checked,
            "broken": None if broken is None else {
                "position": broken.position, "aggregate": str(broken.originator_id),
                "version": broken.originator_version, "topic": broken.topic}}


async def verify_progress(request: web.Request) -> web.StreamResponse:
    """`GET /ui/audit/verify/progress`: verify, streaming `progress` {checked, total} then `verdict`."""
    _admin(request)
    audit = request.app[RUNTIME].audit
    total = await audit.last_position()
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    queue: asyncio.Queue[int] = asyncio.Queue()
    checking = asyncio.create_task(audit.verify(queue.put_nowait))
    checked = 0
    try:
        while not checking.done() or not queue.empty():
            getter = asyncio.ensure_future(queue.get())
            await asyncio.wait({getter, checking}, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                checked += getter.result()
                data = orjson.dumps({"checked": checked, "total": total})
                await response.write(b"event: progress\ndata: %s\n\n" % data)
            else:
                getter.cancel()
            if request.app[STOPPING].is_set():
                break
        if checking.done():
            data = orjson.dumps(_verdict(checking.result()))
            await response.write(b"event: verdict\ndata: %s\n\n" % data)
    except ConnectionResetError:
        pass
    finally:
        if not checking.done():
            checking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await checking
    return response


async def export(request: web.Request) -> web.StreamResponse:
    """`GET /ui/audit/export.ndjson?after=`: the log as NDJSON, as `procession events export` writes it."""
    _admin(request)
    after = integer(request.query.get("after") or None, "after", default=0, maximum=MAX_POSITION)
    response = web.StreamResponse(headers={
        **HEADERS, "Content-Type": "application/x-ndjson",
        "Content-Disposition": 'attachment; filename="procession-events.ndjson"',
    })
    await response.prepare(request)
    async for chunk in request.app[RUNTIME].audit.export(after):
        await response.write(chunk)
    await response.write_eof()
    return response
