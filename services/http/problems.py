"""The one error model: every failure leaves as RFC 9457 problem JSON."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus

import orjson
from aiohttp import web
from pydantic import ValidationError

from events.errors import Conflict, DomainError, InvalidInput, MalformedInput, NotFound, StaleVersion

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


class ProblemError(Exception):
    """Raised by handlers for an HTTP-level refusal (precondition, media type, auth)."""

    def __init__(
        self, status: int, detail: str, *, title: str | None = None,
        errors: list[str] | None = None, headers: dict[str, str] | None = None, **extra: object,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra


def problem_response(
    request: web.Request, status: int, title: str, detail: str | None,
    errors: list[str] | None = None, headers: dict[str, str] | None = None, **extra: object,
) -> web.Response:
    """Build the problem JSON response for one error."""
    body: dict[str, object] = {
        "type": f"https://procession.dev/problems/{status}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.path,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    return web.Response(
        status=status, body=orjson.dumps(body), content_type=PROBLEM_JSON, headers=headers
    )


def _domain_status(error: DomainError) -> int:
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, StaleVersion):  # an If-Match that no longer holds
        return 412
    if isinstance(error, Conflict):
        return 409
    if isinstance(error, MalformedInput):
        return 400
    if isinstance(error, InvalidInput):
        return 422
    return 400


def domain_status(error: DomainError) -> int:
    """The HTTP status of a refused command (for faces that answer in HTML, not problem JSON)."""
    return _domain_status(error)


MAX_LISTED_ERRORS = 50


def validation_messages(error: ValidationError) -> list[str]:
    """Pydantic errors as 'field: message' lines; a body with thousands of bad items lists the first few."""
    lines = [
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
        for e in error.errors(include_url=False, include_context=False, include_input=False)[:MAX_LISTED_ERRORS]
    ]
    if (more := error.error_count() - MAX_LISTED_ERRORS) > 0:
        lines.append(f"... and {more} more")
    return lines


@web.middleware
async def problem_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Translate every exception into a problem response; a bug is a logged 500."""
    try:
        return await handler(request)
    except ProblemError as e:
        return problem_response(request, e.status, e.title, e.detail, e.errors, e.headers, **e.extra)
    except DomainError as e:
        errors = getattr(e, "problems", None) or None
        return problem_response(request, _domain_status(e), e.title, e.detail, errors)
    except ValidationError as e:
        return problem_response(request, 422, "Invalid input", "the body has invalid fields", validation_messages(e))
    except web.HTTPException as e:
        if e.status < 400:
            raise
        headers = {k: v for k, v in e.headers.items() if k.lower() in ("allow", "location")}
        detail = e.text if e.text and not e.text.startswith(f"{e.status}:") else e.reason
        return problem_response(request, e.status, e.reason, detail, headers=headers)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem_response(request, 500, "Internal Server Error", "an unexpected error occurred")
