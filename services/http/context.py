"""What every handler reads off a request, read one way: the runtime, the caller, If-Match,
Idempotency-Key and `asOf`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from aiohttp import web

from infra.tokens import Principal
from services.http import headers, params
from services.http.app_keys import PRINCIPAL, RUNTIME

if TYPE_CHECKING:
    from services.bootstrap import Runtime


@dataclass(frozen=True)
class AsOf:
    """`?asOf=`: an aggregate version or a moment (exactly one is set)."""

    version: int | None
    moment: datetime | None


@dataclass
class RequestContext:
    """One request's parsed conventions; each is read (and refused with a 400) only when asked for."""

    request: web.Request

    @property
    def runtime(self) -> Runtime:
        return self.request.app[RUNTIME]

    @property
    def principal(self) -> Principal:
        """The authenticated caller (every non-public route has one)."""
        return self.request[PRINCIPAL]

    @cached_property
    def if_match(self) -> int | None:
        return headers.if_match(self.request)

    @cached_property
    def idempotency_key(self) -> str | None:
        return headers.idempotency_key(self.request)

    @cached_property
    def as_of(self) -> AsOf | None:
        moment = headers.as_of(self.request)
        return None if moment is None else AsOf(*moment)

    def integer(self, name: str, *, default: int, minimum: int = 0, maximum: int = params.MAX_INT) -> int:
        """A bounded integer query parameter (paging: sizes, offsets, positions)."""
        return params.integer(self.request.query.get(name), name, default=default, minimum=minimum, maximum=maximum)

    def match(self, name: str) -> str:
        """A path parameter."""
        return self.request.match_info[name]


def request_context(request: web.Request) -> RequestContext:
    """The context of a request."""
    return RequestContext(request)
