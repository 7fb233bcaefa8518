"""Request and response headers every face reads the same way: ETag, If-Match, Idempotency-Key, asOf."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

from services.common.times import parse_moment
from services.http.problems import ProblemError

# ASCII digits only (str.isdigit() also accepts '²'), and short enough for a bigint.
_VERSION = re.compile(r"[0-9]{1,18}")
# A structured-field string (RFC 8941): printable ASCII.
_IDEMPOTENCY_KEY = re.compile(r"[\x20-\x7e]{1,200}")


def json_response(body: Any, *, status: int = 200, etag: int | None = None, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response, with the aggregate version as its ETag."""
    response = web.Response(status=status, body=orjson.dumps(body), content_type="application/json", headers=headers)
    if etag is not None:
        response.headers["ETag"] = f'"{etag}"'
    return response


def if_match(request: web.Request) -> int | None:
    """The version an `If-Match` header demands (None when absent or `*`); 400 if unreadable."""
    raw = request.headers.get("If-Match")
    if raw is None or raw.strip() == "*":
        return None
    value = raw.strip().removeprefix("W/").strip('"')
    if not _VERSION.fullmatch(value):
        raise ProblemError(400, f"If-Match must be an ETag this service gave out, got {raw[:40]!r}")
    return int(value)


def idempotency_key(request: web.Request) -> str | None:
    """The caller's `Idempotency-Key`: 1-200 printable ASCII characters."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ProblemError(400, "Idempotency-Key must be 1-200 printable ASCII characters")
    return key


def as_of(request: web.Request) -> tuple[int | None, datetime | None] | None:
    """`?asOf=` as a version number or an ISO-8601 moment; None when not asked."""
    raw = request.query.get("asOf")
    if raw is None:
        return None
    if _VERSION.fullmatch(raw):
        return int(raw), None
    try:
        # In UTC, so that the database never sees a moment outside its range.
        moment = parse_moment(raw)
    except ValueError:
        raise ProblemError(400, f"asOf must be a version number or an ISO-8601 time, got {raw[:40]!r}") from None
    return None, moment
