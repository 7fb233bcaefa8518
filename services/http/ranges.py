"""Byte ranges (RFC 9110 §14): `Range: bytes=a-b | a- | -n`, answered 206, 416 or 200.

One range per request: a multi-range request (`bytes=0-1,5-6`) is answered with the whole
representation (200), which RFC 9110 allows a server to do. A header in another unit, or
one that cannot be read, is ignored (200), as the RFC requires; Concord's server refuses
those with 400, but a client sending them gets the full log either way. `If-Range` with
an ETag that no longer matches (or a date) also gives the whole representation.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from services.http.problems import ProblemError

_SPEC = re.compile(r"bytes=(?:([0-9]{1,18})-([0-9]{0,18})|-([0-9]{1,18}))")


@dataclass(frozen=True)
class ByteRange:
    """The inclusive byte positions `first`..`last` of a representation of `size` bytes."""

    first: int
    last: int
    size: int

    @property
    def content_range(self) -> str:
        return f"bytes {self.first}-{self.last}/{self.size}"


class Unsatisfiable(Exception):
    """The range asks only for bytes past the end (416)."""


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The range to send, or None for the whole representation; Unsatisfiable when nothing fits."""
    if header is None:
        return None
    match = _SPEC.fullmatch(header.strip().replace(" ", ""))
    if match is None:
        return None
    first, last, suffix = match.groups()
    if suffix is not None:
        length = int(suffix)
        if length == 0 or size == 0:
            raise Unsatisfiable(header)
        return ByteRange(max(size - length, 0), size - 1, size)
    start = int(first)
    if last and int(last) < start:
        return None  # RFC 9110: an invalid range-spec makes the whole header ignorable
    if start >= size:
        raise Unsatisfiable(header)
    return ByteRange(start, min(int(last), size - 1) if last else size - 1, size)


def _if_range_holds(request: web.Request, etag: str | None) -> bool:
    condition = request.headers.get("If-Range")
    if condition is None:
        return True
    # Only a strong ETag comparison can hold; a date cannot be checked against our content.
    return etag is not None and not condition.startswith("W/") and condition.strip() == etag


def _part_of(request: web.Request, size: int, etag: str | None) -> ByteRange | None:
    wanted = request.headers.get("Range") if _if_range_holds(request, etag) else None
    try:
        return parse_range(wanted, size)
    except Unsatisfiable:
        raise ProblemError(
            416, f"the range {wanted!r} starts past the end of the {size} bytes",
            headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"},
        ) from None


def _headers(etag: str | None, headers: dict[str, str] | None, part: ByteRange | None) -> dict[str, str]:
    extra = {"Accept-Ranges": "bytes", **(headers or {})}
    if etag is not None:
        extra["ETag"] = etag
    if part is not None:
        extra["Content-Range"] = part.content_range
    return extra


def ranged_response(
    request: web.Request, body: bytes, *, content_type: str, charset: str | None = None,
    etag: str | None = None, headers: dict[str, str] | None = None,
) -> web.Response:
    """`body` whole (200) or the requested part (206); 416 with `bytes */size` when unsatisfiable.

    `etag` is the quoted strong ETag of the whole body, sent back and compared with `If-Range`.
    """
    part = _part_of(request, len(body), etag)
    data = body if part is None else body[part.first:part.last + 1]
    return web.Response(status=200 if part is None else 206, body=data, content_type=content_type, charset=charset,
                        headers=_headers(etag, headers, part))


async def ranged_file_response(
    request: web.Request, path: Path, size: int, *, content_type: str, etag: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """Like `ranged_response` for a file of `size` bytes; only the bytes sent are read (in an executor)."""
    part = _part_of(request, size, etag)
    first, last = (0, size - 1) if part is None else (part.first, part.last)
    data = await asyncio.get_running_loop().run_in_executor(None, _read_slice, path, first, last - first + 1)
    return web.Response(status=200 if part is None else 206, body=data, content_type=content_type,
                        headers=_headers(etag, headers, part))


def _read_slice(path: Path, offset: int, length: int) -> bytes:
    with path.open("rb") as f:
        f.seek(offset)
        return f.read(max(length, 0))
