"""A GET (or HEAD) whose path ends in one extra `/` answers like the route without it.

Hackney's document writes `GET /api/v1/process/process-name/{id}/`; clients copy such paths.
Rather than register a second route per GET (the route table stays one row per operation),
a request that matched nothing is tried once more without its trailing slash, through the whole
middleware chain (authentication included), so it is answered exactly as the canonical path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.web_urldispatcher import MatchInfoError

_READS = frozenset({"GET", "HEAD"})


@web.middleware
async def trailing_slash_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Re-dispatch an unmatched `GET …/` as `GET …` when that path names a route."""
    path = request.rel_url.raw_path
    if request.method not in _READS or len(path) < 2 or not path.endswith("/") or path.endswith("//"):
        return await handler(request)
    if not isinstance(request.match_info, MatchInfoError):
        return await handler(request)
    canonical = request.clone(rel_url=request.rel_url.with_path(path[:-1], encoded=True))
    if isinstance(await request.app.router.resolve(canonical), MatchInfoError):
        return await handler(request)
    # The app's own dispatch: resolve, then every middleware and the handler, as for the canonical path.
    return await request.app._handle(canonical)
