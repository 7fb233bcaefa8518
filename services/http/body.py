"""Reading request bodies: media type, size cap and JSON, checked before any model sees them."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from aiohttp import hdrs, web
from pydantic import BaseModel

from services.http.problems import ProblemError

M = TypeVar("M", bound=BaseModel)


def is_json(request: web.Request) -> bool:
    """Whether the request says its body is JSON (application/json or any +json type)."""
    media = request.content_type
    return media == "application/json" or media.endswith("+json")


async def read_json(request: web.Request, *, untyped: bool = False) -> Any:
    """The body parsed as JSON: 415 if not JSON, 413 if too large, 400 if malformed.

    `untyped`: a body sent with no Content-Type at all is read as JSON when it parses as JSON
    (415 when it does not). Only a face whose document's examples send no Content-Type uses it.
    """
    unlabelled = untyped and not request.headers.get(hdrs.CONTENT_TYPE, "").strip()
    if not unlabelled and not is_json(request):
        raise ProblemError(415, f"expected application/json, got {request.content_type or 'no media type'}")
    raw = await request.read()  # aiohttp enforces client_max_size here (413)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        if unlabelled:
            raise ProblemError(415, "expected application/json: the body has no Content-Type and is not JSON") from None
        raise ProblemError(400, f"malformed JSON: {e}", title="Malformed JSON") from None


async def read_model(request: web.Request, model: type[M], *, untyped: bool = False) -> M:
    """The JSON body validated against a model (422 with each invalid field named)."""
    data = await read_json(request, untyped=untyped)
    if not isinstance(data, dict):
        raise ProblemError(400, "the body must be a JSON object", title="Malformed JSON")
    return model.model_validate(data)
