"""Signing in (a token starts a server-side session) and out (the session ends)."""

from __future__ import annotations

from aiohttp import web

from services.faces.portal.render import page
from services.faces.portal.security import (
    SESSION_COOKIE, SIGN_IN_COOKIE, UI, Refused, check_csrf, session_of, set_session_cookie, sign_in_token,
)
from services.http.app_keys import RUNTIME


def _next(raw: object) -> str:
    """Where to go after signing in: a path of this site only (never another origin)."""
    target = raw if isinstance(raw, str) else ""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return UI + "/"
    return target


async def sign_in_page(request: web.Request) -> web.Response:
    """The sign-in form."""
    response = web.Response()
    token = sign_in_token(request, response)
    shown = page(request, "sign_in.html", {"form_token": token, "next": _next(request.query.get("next")), "failed": False})
    shown.cookies.update(response.cookies)
    return shown


async def sign_in(request: web.Request) -> web.StreamResponse:
    """Check the token, start a session, go where the person was going."""
    expected = request.cookies.get(SIGN_IN_COOKIE)
    if not expected:
        raise Refused(403, "Your browser did not keep the sign-in form's cookie. Reload the sign-in page and try again.")
    await check_csrf(request, expected)
    form = await request.post()
    token, target = form.get("token"), _next(form.get("next"))
    started = None
    if isinstance(token, str) and token.strip().isascii() and token.strip().isprintable():
        started = await request.app[RUNTIME].sessions.start(token.strip())
    if started is None:
        response = web.Response()
        again = sign_in_token(request, response)
        shown = page(request, "sign_in.html", {"form_token": again, "next": target, "failed": True}, status=401)
        shown.cookies.update(response.cookies)
        return shown
    session_id, _ = started
    redirect = web.HTTPSeeOther(target)
    set_session_cookie(request, redirect, session_id)
    redirect.del_cookie(SIGN_IN_COOKIE, path=UI + "/sign-in")
    raise redirect


async def sign_out(request: web.Request) -> web.StreamResponse:
    """End the session (the guard checked its CSRF token) and forget the cookie."""
    session_of(request)  # only a signed-in browser gets here
    await request.app[RUNTIME].sessions.end(request.cookies[SESSION_COOKIE])
    redirect = web.HTTPSeeOther(UI + "/sign-in")
    redirect.del_cookie(SESSION_COOKIE, path="/")
    raise redirect
