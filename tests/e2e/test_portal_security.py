"""The portal's guard over real HTTP: sessions, CSRF, headers, redirects."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from tests.e2e.conftest import Api


def _field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no {name} field"
    return match.group(1)


async def sign_in(api: Api, token: str) -> str:
    """Sign the test client in; returns the session's CSRF token."""
    page = await api.client.get("/ui/sign-in")
    form_token = _field(await page.text(), "csrf")
    r = await api.client.post("/ui/sign-in", data={"csrf": form_token, "token": token, "next": "/ui/processes"},
                              allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/ui/processes"
    cookie = r.headers.getall("Set-Cookie")
    session = next(c for c in cookie if c.startswith("procession_session="))
    assert "HttpOnly" in session and "SameSite=Lax" in session and "Secure" not in session
    home = await api.client.get("/ui/")
    assert home.status == 200
    return _field(await home.text(), "csrf")


async def test_root_and_pages_send_a_stranger_to_sign_in(api: Api):
    r = await api.client.get("/", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"] == "/ui/"
    r = await api.client.get("/ui/processes?status=failed", allow_redirects=False)
    assert r.status == 303
    target = urlsplit(r.headers["Location"])
    assert target.path == "/ui/sign-in" and parse_qs(target.query)["next"] == ["/ui/processes?status=failed"]


async def test_every_portal_answer_carries_the_security_headers(api: Api):
    for path in ("/ui/sign-in", "/ui/static/portal.css", "/ui/nothing-here"):
        r = await api.client.get(path, allow_redirects=False)
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Referrer-Policy"] == "same-origin"


async def test_a_bad_token_is_refused_and_a_good_one_starts_a_session(api: Api):
    page = await api.client.get("/ui/sign-in")
    form_token = _field(await page.text(), "csrf")
    r = await api.client.post("/ui/sign-in", data={"csrf": form_token, "token": "prc_wrong", "next": "/ui/"})
    assert r.status == 401 and "That token is not valid" in await r.text()
    await sign_in(api, api.user_token)
    r = await api.client.get("/ui/")
    assert r.status == 200 and "bob" in await r.text()


async def test_sign_in_without_the_form_cookie_is_refused(api: Api):
    r = await api.client.post("/ui/sign-in", data={"csrf": "x", "token": api.user_token})
    assert r.status == 403
    assert not [c for c in r.headers.getall("Set-Cookie", []) if c.startswith("procession_session=")]


async def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(api: Api):
    csrf = await sign_in(api, api.user_token)
    r = await api.client.post("/ui/sign-out", data={}, allow_redirects=False)
    assert r.status == 403 and "CSRF" in await r.text()
    r = await api.client.post("/ui/sign-out", data={"csrf": "forged"}, allow_redirects=False)
    assert r.status == 403
    assert (await api.client.get("/ui/", allow_redirects=False)).status == 200  # still signed in
    r = await api.client.post("/ui/sign-out", data={"csrf": csrf}, allow_redirects=False)
    assert r.status == 303
    assert (await api.client.get("/ui/", allow_redirects=False)).status == 303


async def test_revoking_the_token_ends_its_sessions(api: Api):
    await sign_in(api, api.user_token)
    bobs = [t.id for t in await api.runtime.tokens.list_all() if t.user == "bob"]
    assert bobs and all([await api.runtime.tokens.revoke(str(i)) for i in bobs])
    r = await api.client.get("/ui/", allow_redirects=False)
    assert r.status == 303 and r.headers["Location"].startswith("/ui/sign-in")


async def test_an_idle_session_ends(api: Api):
    await sign_in(api, api.user_token)
    await api.runtime.pool.execute("UPDATE procession_sessions SET last_seen = last_seen - interval '9 hours'")
    r = await api.client.get("/ui/", allow_redirects=False)
    assert r.status == 303


async def test_sign_in_never_sends_the_browser_to_another_site(api: Api):
    page = await api.client.get("/ui/sign-in?next=//evil.example/x")
    assert 'name="next" value="/ui/"' in await page.text()


async def test_concord_portal_without_a_token_continues_in_the_portal(api: Api):
    r = await api.client.get("/api/service/process_portal/start?entryPoint=demo&x=1", allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/ui/start?entryPoint=demo&x=1"
    # With a token it stays Concord's API.
    r = await api.user("GET", "/api/service/process_portal/start", allow_redirects=False)
    assert r.status == 400
