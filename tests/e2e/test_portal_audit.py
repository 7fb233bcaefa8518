"""The audit page over real HTTP: admins only, filters, live tail, verify with progress, export."""

from __future__ import annotations

import asyncio

import orjson

from tests.e2e.conftest import Api
from tests.e2e.test_portal_security import sign_in

MARKUP = "<script>alert('x')</script>"


async def _definition(api: Api, key: str = "audited") -> None:
    r = await api.admin("POST", "/api/process/v1", json={"_id": key, "name": MARKUP, "script": "echo-params"})
    assert r.status == 201, await r.text()


async def test_a_user_is_refused_and_sees_no_link(api: Api):
    await sign_in(api, api.user_token)
    home = await api.client.get("/ui/")
    assert 'href="/ui/audit"' not in await home.text()
    for path in ("/ui/audit", "/ui/audit/export.ndjson", "/ui/audit/verify/progress", "/ui/audit/live"):
        r = await api.client.get(path)
        assert r.status == 403, path


async def test_the_feed_filters_by_type_and_aggregate(api: Api):
    await _definition(api)
    await sign_in(api, api.admin_token)
    home = await api.client.get("/ui/")
    assert 'href="/ui/audit"' in await home.text()
    r = await api.client.get("/ui/audit")
    text = await r.text()
    assert r.status == 200 and "ProcessDefinition.Registered" in text and "ProcessKey" in text
    assert MARKUP not in text  # states are not rendered; nothing of the user's can run
    r = await api.client.get("/ui/audit?type=registered")
    text = await r.text()
    assert "ProcessDefinition.Registered" in text and "ProcessKey.Claimed" not in text
    lines = [orjson.loads(x) for x in (await (await api.admin("GET", "/api/v1/events")).read()).splitlines()]
    key_line = next(x for x in lines if x["type"].startswith("ProcessKey"))
    r = await api.client.get(f"/ui/audit?aggregate={key_line['originator_id']}")
    text = await r.text()
    assert key_line["originator_id"] in text and "ProcessDefinition.Registered" not in text
    r = await api.client.get("/ui/audit?aggregate=%3Cb%3Enot-an-id")
    assert r.status == 400 and "&lt;b&gt;not-an-id" in await r.text()


async def test_the_live_tail_sends_new_matching_lines(api: Api):
    await sign_in(api, api.admin_token)
    after = await api.runtime.audit.last_position()
    async with api.client.get(f"/ui/audit/live?after={after}&type=VersionCreated") as stream:
        assert stream.status == 200 and stream.headers["Content-Type"] == "text/event-stream"
        await _definition(api, "tailed")
        r = await api.admin("POST", "/api/process/v1", json={"_id": "tailed", "name": "second", "script": "echo-params"})
        assert r.status in (200, 201), await r.text()
        seen = b""
        while b"event: audit" not in seen:
            seen += await asyncio.wait_for(stream.content.readline(), 10)
        data = (await stream.content.readline()).removeprefix(b"data: ")
        assert orjson.loads(data)["type"] == "ProcessDefinition.VersionCreated"
        assert b"Registered" not in seen


async def test_verify_reports_progress_then_the_verdict(api: Api):
    await _definition(api)
    csrf = await sign_in(api, api.admin_token)
    r = await api.client.post("/ui/audit/verify", data={"csrf": csrf})
    text = await r.text()
    assert r.status == 200 and "Intact:" in text and "every hash matches" in text
    r = await api.client.post("/ui/audit/verify", data={})
    assert r.status == 403
    r = await api.client.get("/ui/audit/verify/progress")
    body = (await r.read()).decode()
    assert "event: progress" in body and "event: verdict" in body
    verdict = orjson.loads(body.split("event: verdict\ndata: ", 1)[1].split("\n", 1)[0])
    assert verdict["intact"] is True and verdict["checked"] == await api.runtime.audit.last_position()


async def test_export_is_the_cli_export(api: Api):
    await _definition(api)
    await sign_in(api, api.admin_token)
    r = await api.client.get("/ui/audit/export.ndjson")
    assert r.status == 200 and r.headers["Content-Type"] == "application/x-ndjson"
    assert "attachment" in r.headers["Content-Disposition"]
    body = await r.read()
    expected = b"".join([chunk async for chunk in api.runtime.audit.export()])
    assert body == expected and len(body.splitlines()) == await api.runtime.audit.last_position()
