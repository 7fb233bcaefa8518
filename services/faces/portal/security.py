"""The portal's guard: sessions from the cookie, CSRF on every state change, strict headers.

Only requests under `/ui` (and `/`, and Concord's portal routes when they carry no
`Authorization`) pass through it; the API keeps its token auth untouched. A page without a
session answers 303 to the sign-in page (which comes back to it); a state-changing request
must carry the session's CSRF token (form field `csrf` or header `X-CSRF-Token`), else 403.
Sign-in itself has no session yet: its form carries a token that must match a cookie
(double submit), so another site cannot sign a browser in as someone else either.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web
from pydantic import ValidationError

from events.errors import DomainError
from infra.sessions import Session
from services.http.problems import ProblemError, domain_status, log, validation_messages
from services.http.app_keys import PRINCIPAL, RUNTIME, STILL_ALLOWED

SESSION_COOKIE = "procession_session"
SIGN_IN_COOKIE = "procession_signin"
SESSION: web.RequestKey[Session] = web.RequestKey("portal_session")
UI = "/ui"
STATIC = UI + "/static/"
SIGN_IN = UI + "/sign-in"
CONCORD_PORTAL = "/api/service/process_portal"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
    " font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class Refused(Exception):
    """A portal request refused before its handler: rendered as an HTML error page."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def session_of(request: web.Request) -> Session:
    """The signed-in session of a portal page (the guard guarantees one)."""
    return request[SESSION]


def set_session_cookie(request: web.Request, response: web.StreamResponse, session_id: str) -> None:
    """HttpOnly, SameSite=Lax, Secure over HTTPS; no Max-Age: the server decides when it ends."""
    response.set_cookie(SESSION_COOKIE, session_id, path="/", httponly=True, samesite="Lax", secure=request.secure)


def sign_in_token(request: web.Request, response: web.StreamResponse) -> str:
    """The double-submit token of the sign-in form (reused while its cookie lives)."""
    token = request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(24)
    response.set_cookie(SIGN_IN_COOKIE, token, path=SIGN_IN, httponly=True, samesite="Strict", secure=request.secure)
    return token


def _concord_redirect(request: web.Request) -> str | None:
    """Concord's browser routes, asked without a token, continue in the portal."""
    if "Authorization" in request.headers or request.method != "GET":
        return None
    if request.path == CONCORD_PORTAL + "/start":
        return f"{UI}/start?{request.query_string}" if request.query_string else f"{UI}/start"
    if request.path.startswith(CONCORD_PORTAL + "/process/"):
        return f"{UI}/processes/{quote(request.path.rsplit('/', 1)[-1], safe='')}"
    return None


def _sign_in_url(request: web.Request) -> str:
    return f"{SIGN_IN}?next={quote(request.path_qs, safe='')}"


async def _guard(request: web.Request) -> None:
    """Find the session, refuse what needs one without it, and check CSRF."""
    session_id = request.cookies.get(SESSION_COOKIE)
    sessions = request.app[RUNTIME].sessions
    session = await sessions.find(session_id) if session_id else None
    if session is not None and session_id is not None:
        request[SESSION] = session
        request[PRINCIPAL] = session.principal
        live_id = session_id

        async def still_allowed() -> bool:
            return await sessions.alive(live_id)

        request[STILL_ALLOWED] = still_allowed
    if request.path == SIGN_IN or request.path.startswith(STATIC):
        return
    if session is None:
        if request.method in _SAFE and "HX-Request" not in request.headers and "text/event-stream" not in request.headers.get("Accept", ""):
            raise web.HTTPSeeOther(_sign_in_url(request))
        raise Refused(401, "You are not signed in (or your session ended). Sign in again.")
    if request.method not in _SAFE:
        await check_csrf(request, session.csrf)


async def check_csrf(request: web.Request, expected: str) -> None:
    """403 unless the request carries `expected` (form field `csrf` or header `X-CSRF-Token`)."""
    given = request.headers.get("X-CSRF-Token")
    if given is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        given = await _form_field(request, "csrf")
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Refused(403, "This form is out of date or did not come from this site (CSRF check failed). Reload the page and try again.")


async def _form_field(request: web.Request, name: str) -> str | None:
    # aiohttp keeps the parsed form, so the handler reads the same `post()` again for free.
    value = (await request.post()).get(name)
    return value if isinstance(value, str) else None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def portal_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Guard `/ui`, send `/` there, hand Concord's browser routes over; headers on every portal answer."""
    if request.path == "/":
        raise web.HTTPFound(UI + "/")
    if (target := _concord_redirect(request)) is not None:
        raise web.HTTPSeeOther(target)
    if not (request.path == UI or request.path.startswith(UI + "/")):
        return await handler(request)
    from services.faces.portal.errors import error_page  # the page needs templates; import late

    try:
        await _guard(request)
        response = await handler(request)
    except web.HTTPException as e:
        if e.status < 400:
            e.headers.update(HEADERS)
            raise
        response = error_page(request, e.status, e.text or e.reason)
    except Refused as e:
        response = error_page(request, e.status, e.detail)
    except Exception as e:  # noqa: BLE001 - domain errors become pages; the rest is a logged 500
        response = error_page(request, *_status_of(request, e))
    if not response.prepared:
        response.headers.update(HEADERS)
        if not request.path.startswith(STATIC):
            response.headers.setdefault("Cache-Control", "no-store")
    return response


def _status_of(request: web.Request, error: Exception) -> tuple[int, str]:
    if isinstance(error, ProblemError):
        return error.status, error.detail
    if isinstance(error, DomainError):
        problems = getattr(error, "problems", None) or []
        return domain_status(error), "; ".join([error.detail, *problems])
    if isinstance(error, ValidationError):
        return 422, "; ".join(validation_messages(error))
    log.exception("unhandled error on %s %s", request.method, request.path, exc_info=error)
    return 500, "An unexpected error occurred."
