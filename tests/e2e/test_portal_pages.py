"""The portal's pages over real HTTP (no browser): each renders, and forms act through the services."""

from __future__ import annotations

import re

from tests.e2e.conftest import Api
from tests.e2e.test_portal_security import sign_in


async def test_the_pages_render_for_a_signed_in_user(api: Api):
    r = await api.admin("POST", "/api/process/v1", json={"_id": "echo", "name": "Echo", "script": "echo-params"})
    assert r.status == 201, await r.text()
    csrf = await sign_in(api, api.user_token)
    for path in ("/ui/", "/ui/processes", "/ui/tasks", "/ui/definitions", "/ui/definitions/echo"):
        r = await api.client.get(path)
        assert r.status == 200, (path, await r.text())
    r = await api.client.post("/ui/definitions/echo/start", data={"csrf": csrf, "param.count": "x"})
    assert r.status == 422
    text = await r.text()
    assert "must be a whole number" in text and "mandatory parameter --message is missing" in text
    r = await api.client.post("/ui/definitions/echo/start", data={"csrf": csrf, "param.message": "hi", "param.count": "2"},
                              allow_redirects=False)
    assert r.status == 303, await r.text()
    location = r.headers["Location"]
    assert re.fullmatch(r"/ui/processes/[0-9a-f-]{36}", location)
    for path in (location, location + "/summary", location + "/log.txt", "/ui/processes?status=running&sort=status"):
        r = await api.client.get(path)
        assert r.status == 200, (path, await r.text())
    r = await api.client.get("/ui/processes?sort=nope")
    assert r.status == 400 and "cannot sort by" in await r.text()


async def test_stop_from_the_process_page(api: Api):
    await api.admin("POST", "/api/process/v1", json={"_id": "slowish", "script": "slow"})
    csrf = await sign_in(api, api.user_token)
    r = await api.client.post("/ui/definitions/slowish/start", data={"csrf": csrf, "param.seconds": "30"},
                              allow_redirects=False)
    location = r.headers["Location"]
    r = await api.client.post(location + "/stop", data={"csrf": csrf}, allow_redirects=False)
    assert r.status == 303, await r.text()
