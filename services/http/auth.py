"""Authentication and roles: `Authorization: Bearer <token>` or Concord's bare key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from infra.tokens import Principal
from services.http.problems import ProblemError
from services.http.app_keys import PRINCIPAL, ROUTE_SPECS, RUNTIME, STILL_ALLOWED

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="procession"'}


def _token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "").strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    if scheme.lower() == "bearer":
        return rest.strip() or None
    # Concord sends the API key as the whole header value.
    return header if not rest else None


def bearer_token(request: web.Request) -> str | None:
    """The token the caller sent, if any (Bearer, or Concord's bare form)."""
    return _token(request)


def principal_of(request: web.Request) -> Principal:
    """The authenticated caller of a non-public route."""
    return request[PRINCIPAL]


@web.middleware
async def auth_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """401 without a valid token, 403 when the route needs a role the caller lacks."""
    route = request.app[ROUTE_SPECS].get(request.match_info.route)
    if route is None or route.role == "public":
        return await handler(request)
    token = _token(request)
    if token is None:
        raise ProblemError(401, "an Authorization header with a token is required", headers=_CHALLENGE)
    # Tokens are printable ASCII; anything else (undecodable header bytes) cannot be one.
    tokens = request.app[RUNTIME].tokens
    principal = await tokens.principal(token) if token.isascii() and token.isprintable() else None
    if principal is None:
        raise ProblemError(401, "the token is not valid", headers=_CHALLENGE)
    if route.role == "admin" and not principal.is_admin:
        raise ProblemError(403, "this operation needs the admin role")
    request[PRINCIPAL] = principal

    async def still_allowed() -> bool:
        return await tokens.principal(token) is not None

    request[STILL_ALLOWED] = still_allowed
    return await handler(request)
