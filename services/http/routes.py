"""A route as every face declares it: method, path, handler, who may call it, its shapes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Role = Literal["public", "user", "admin", "browser"]
"""`browser`: a user's route that a plain browser may also open without a token (the portal signs it in)."""


@dataclass(frozen=True)
class Route:
    """One operation. `body` and `response` feed the OpenAPI document."""

    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    role: Role = "user"
    body: Any = None
    body_media: str = "application/json"
    # Further media types the same operation reads, as (media type, shape); and whether a body is needed.
    other_bodies: tuple[tuple[str, Any], ...] = ()
    body_required: bool = True
    response: Any = None
    response_media: str = "application/json"
    status: int = 200
    errors: tuple[int, ...] = ()
    # Query parameters by name (typed by name in the OpenAPI builder), or (name, JSON Schema).
    query: tuple[str | tuple[str, dict[str, Any]], ...] = ()
    # Whole OpenAPI parameter objects, for what a name and the route's regex cannot say (a path
    # parameter the handler checks, several query parameters read as one exploded object so that
    # a rule across them can be stated); each replaces the generated one of its name and place.
    parameters: tuple[dict[str, Any], ...] = ()
    # The rules a valid request must also follow that OpenAPI cannot express (the operation's description).
    description: str | None = None
    # Other success answers, as (status, response schema): a shared route answers each face's way.
    also: tuple[tuple[int, Any], ...] = ()
