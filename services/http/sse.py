"""Server-sent event streams that resume from `Last-Event-ID` and follow the log live."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from infra.aio import wait_any
from services.http.app_keys import RUNTIME, STILL_ALLOWED, STOPPING
from services.http.params import MAX_VERSION, integer

KEEPALIVE_SECONDS = 15.0
RECHECK_SECONDS = 5.0  # how stale a stream's proof of access may grow while items keep coming
SHUTDOWN_EVENT = b'event: shutdown\ndata: {"reason":"service shutdown"}\n\n'
REVOKED_EVENT = b'event: revoked\ndata: {"reason":"the token or session is no longer valid"}\n\n'
Item = tuple[int, str, bytes]
"""(id, event name, data): one SSE message."""


class StreamEnd(Exception):
    """Raised by a fetch to end an open stream quietly (the caller may no longer follow it)."""


def resume_point(request: web.Request) -> int:
    """Where a stream starts: `Last-Event-ID`, else `?after=`, else the beginning."""
    raw = request.headers.get("Last-Event-ID") or request.query.get("after")
    return integer(raw, "Last-Event-ID and after", default=0, maximum=MAX_VERSION)


async def stream(
    request: web.Request, append_signal: Callable[[], asyncio.Event], after: int,
    fetch: Callable[[int], Awaitable[Sequence[Item]]],
) -> web.StreamResponse:
    """Send every item after `after`, then each new one as it is appended, until the client leaves.

    `append_signal()` gives an event set at the next append; it is taken before each read. When the
    service shuts down the stream ends with a `shutdown` event (no id, so a client resuming elsewhere
    with Last-Event-ID continues after the last real item). The caller's token or portal session
    is asked again at once when tokens change (a revocation anywhere), and at least every
    `RECHECK_SECONDS`: once it is no longer valid the stream ends with a `revoked` event.
    """
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    stopping, tokens = request.app[STOPPING], request.app[RUNTIME].tokens
    still_allowed = request.get(STILL_ALLOWED)
    loop = asyncio.get_running_loop()
    checked, changed = loop.time(), tokens.invalidated
    with contextlib.suppress(ConnectionResetError, StreamEnd):
        while not stopping.is_set():
            if still_allowed is not None and (changed.is_set() or loop.time() - checked >= RECHECK_SECONDS):
                checked, changed = loop.time(), tokens.invalidated  # taken before asking, like the signal
                if not await still_allowed():
                    await response.write(REVOKED_EVENT)
                    return response
            signal = append_signal()  # taken before reading, so no append slips between
            items = await fetch(after)
            for ident, name, data in items:
                await response.write(b"id: %d\nevent: %s\ndata: %s\n\n" % (ident, name.encode(), data))
                after = ident
            if not items and not await wait_any([signal, stopping, changed], KEEPALIVE_SECONDS):
                await response.write(b": keep-alive\n\n")
        await response.write(SHUTDOWN_EVENT)
    return response
