"""DSpace's script invocation form: `properties` (a JSON list of {name, value}), `file` parts, `startTime`,
and any other text field as a parameter named as sent (`c`, `-c`, `--collection`).

Read by the shared multipart reader under the part-count and byte caps (413 past either);
every `file` part is an input file named by its filename (whether that name may be one is
the script service's check, 422). Duplicate file names or property names are 422.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import BodyPartReader, web
from pydantic import ValidationError

from contracts.dspace import PROPERTIES

from services.http.multipart import part_text, read_parts
from services.http.problems import ProblemError, validation_messages
from services.common.times import parse_moment


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
    invocation = Invocation()
    await read_parts(request, lambda part, data: _take(invocation, part, data), max_parts=max_parts, max_bytes=max_bytes)
    return invocation


def _take(invocation: Invocation, part: BodyPartReader, data: bytes) -> None:
    if part.name == "file" or (part.filename is not None and part.name not in ("properties", "startTime")):
        name = part.filename or ""
        if name in invocation.files:
            raise ProblemError(422, f"the file {name!r} was sent twice", errors=[f"file: {name!r} is a duplicate"])
        invocation.files[name] = data
    elif part.name == "properties":
        for name, value in _properties(part_text(part, data)).items():
            _argument(invocation, name, value)
    elif part.name == "startTime":
        try:
            invocation.start_at = parse_moment(part_text(part, data).strip())
        except ValueError:
            raise ProblemError(400, "startTime must be an ISO-8601 time", errors=["startTime: not a time"]) from None
    else:  # every other text field is a parameter, named as sent (`c`, `-c`, `--collection`)
        _argument(invocation, part.name or "", part_text(part, data))


def _argument(invocation: Invocation, name: str, value: Any) -> None:
    # The script's check catches two names of one parameter (`-c` and `--collection`); this, one name twice.
    if name in invocation.arguments:
        raise ProblemError(422, f"the parameter {name!r} was sent twice", errors=[f"{name}: given more than once"])
    invocation.arguments[name] = value


def _properties(raw: str) -> dict[str, Any]:
    """The `properties` part, parsed by its model (`contracts.dspace.PROPERTIES`): parameter values by name."""
    try:
        items = PROPERTIES.validate_json(raw)
    except ValidationError as e:
        if any(err["type"] == "json_invalid" for err in e.errors()):
            raise ProblemError(400, "properties is not valid JSON", title="Malformed JSON") from None
        raise ProblemError(422, "properties must be a JSON list of {name, value}",
                           errors=[f"properties.{line}" for line in validation_messages(e)]) from None
    arguments: dict[str, Any] = {}
    for item in items:
        if item.name in arguments:
            raise ProblemError(422, f"the parameter {item.name!r} was sent twice", errors=[f"{item.name}: given more than once"])
        arguments[item.name] = item.value
    return arguments
