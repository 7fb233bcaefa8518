"""DSpace's script invocation form: `properties` (a JSON list of {name, value}), `file` parts, `startTime`.

Read chunk by chunk under the part-count and byte caps (413 past either); every `file` part
is an input file named by its filename. Duplicate file names or property names are 422.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from aiohttp import BodyPartReader, web

from services.http.problems import ProblemError
from services.process_output import parse_time
from services.script_registry import is_plain_file_name

_CHUNK = 64 * 1024


@dataclass
class Invocation:
    """What the form asked for."""

    arguments: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    start_at: datetime | None = None


async def read_invocation(request: web.Request, *, max_parts: int, max_bytes: int) -> Invocation:
    """Parse the form; 400 for a body that is not multipart or not readable, 413/422 as above."""
    if request.content_type != "multipart/form-data":
        raise ProblemError(400, f"Invalid mimetype: expected multipart/form-data, got {request.content_type or 'none'}")
    try:
        reader = await request.multipart()
    except (ValueError, AssertionError, KeyError) as e:
        raise ProblemError(400, f"the body is not readable multipart/form-data: {e}") from None
    invocation, count, total = Invocation(), 0, 0
    while True:
        try:
            part = await reader.next()
        except (ValueError, AssertionError) as e:
            raise ProblemError(400, f"the multipart body is malformed: {e}") from None
        if part is None:
            return invocation
        count += 1
        if count > max_parts:
            raise ProblemError(413, f"the form has more than {max_parts} parts")
        if not isinstance(part, BodyPartReader):
            raise ProblemError(400, "nested multipart bodies are not accepted")
        data = await _read(part, max_bytes - total)
        total += len(data)
        _take(invocation, part, data)


async def _read(part: BodyPartReader, budget: int) -> bytes:
    out = bytearray()
    try:
        while chunk := await part.read_chunk(_CHUNK):
            out += chunk
            if len(out) > budget:
                raise ProblemError(413, "the form is larger than this service accepts")
    except (ValueError, AssertionError) as e:
        raise ProblemError(400, f"the multipart body is malformed: {e}") from None
    return bytes(out)


def _take(invocation: Invocation, part: BodyPartReader, data: bytes) -> None:
    if part.name == "file":
        name = part.filename or ""
        if not is_plain_file_name(name):
            raise ProblemError(422, f"file name {name[:80]!r} must be a plain file name", errors=[f"file: {name[:80]!r}"])
        if name in invocation.files:
            raise ProblemError(422, f"the file {name!r} was sent twice", errors=[f"file: {name!r} is a duplicate"])
        invocation.files[name] = data
    elif part.name == "properties":
        invocation.arguments = _properties(_text(part, data))
    elif part.name == "startTime":
        try:
            invocation.start_at = parse_time(_text(part, data).strip())
        except ValueError:
            raise ProblemError(400, "startTime must be an ISO-8601 time", errors=["startTime: not a time"]) from None
    # Other parts are ignored, as DSpace does.


def _text(part: BodyPartReader, data: bytes) -> str:
    try:
        return data.decode(part.get_charset(default="utf-8"))
    except (UnicodeDecodeError, LookupError):
        raise ProblemError(400, f"part {part.name!r} is not text in its declared charset") from None


def _properties(raw: str) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ProblemError(400, f"properties is not valid JSON: {e}", title="Malformed JSON") from None
    if not isinstance(value, list) or not all(isinstance(p, dict) and isinstance(p.get("name"), str) for p in value):
        raise ProblemError(422, "properties must be a JSON list of {name, value}", errors=["properties: a list of {name, value}"])
    arguments: dict[str, Any] = {}
    for item in value:
        if item["name"] in arguments:
            raise ProblemError(422, f"the parameter {item['name']!r} was sent twice", errors=[f"{item['name']}: given more than once"])
        arguments[item["name"]] = item.get("value")
    return arguments
