"""The portal's pages over real HTTP (no browser): each renders, and forms act through the services."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

from infra.tokens import Principal
from services.instances.commands import StopInstance
from tests.e2e.conftest import Api
from tests.e2e.test_portal_security import sign_in
from tests.polling import until

BOB = Principal("bob", "user")  # the e2e user token's user


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


async def test_a_failed_script_run_is_retried_from_its_page_as_a_new_run(api: Api):
    await api.admin("POST", "/api/process/v1", json={"_id": "flaky", "script": "fail"})
    csrf = await sign_in(api, api.user_token)
    r = await api.client.post("/ui/definitions/flaky/start", data={"csrf": csrf}, allow_redirects=False)
    failed = r.headers["Location"]
    failed_id = failed.rsplit("/", 1)[1]

    async def has_failed() -> bool:
        return (await api.runtime.instances.get(failed_id)).status == "failed"

    await until(has_failed)
    assert 'action="' + failed + '/retry"' in await (await api.client.get(failed)).text()
    r = await api.client.post(failed + "/retry", data={"csrf": csrf}, allow_redirects=False)
    assert r.status == 303, await r.text()
    again = r.headers["Location"].rsplit("/", 1)[1]
    assert again != failed_id
    retried = await api.runtime.instances.get(again)
    assert retried.attributes["retryOf"] == failed_id and retried.definition_key == "flaky"
    # Never without the form's CSRF token, and only a failed script run.
    r = await api.client.post(failed + "/retry", data={}, allow_redirects=False)
    assert r.status == 403
    await api.admin("POST", "/api/process/v1", json={"_id": "slowish", "script": "slow"})
    r = await api.client.post("/ui/definitions/slowish/start", data={"csrf": csrf, "param.seconds": "30"},
                              allow_redirects=False)
    running = r.headers["Location"]
    r = await api.client.post(running + "/retry", data={"csrf": csrf}, allow_redirects=False)
    assert r.status == 422 and "not a failed script run" in await r.text()
    await api.client.post(running + "/stop", data={"csrf": csrf}, allow_redirects=False)


async def test_the_overview_lists_the_next_scheduled_starts_soonest_first(api: Api):
    far = (datetime.now(UTC).hour + 12) % 24  # a daily fire hours away: never among the next five minutes
    for key, cron in (("daily", f"0 {far} * * *"), ("minutely", "* * * * *"), ("paused", "* * * * *")):
        configuration = {"_id": key, "script": "echo-params", "input": {"message": "m"}, "cron": cron}
        r = await api.admin("POST", "/api/process/v1", json={**configuration, "enabled": key != "paused"})
        assert r.status == 201, await r.text()
    await sign_in(api, api.user_token)
    page = await (await api.client.get("/ui/")).text()
    table = page[page.index('id="upcoming"'):page.index("</table>", page.index('id="upcoming"'))]
    shown = re.findall(r'<time datetime="([^"]+)"[^>]*>.*?</time></td><td><a href="/ui/definitions/(\w+)"', table)
    assert [key for _, key in shown] == ["minutely"] * 5  # the daily one is later; the paused one never fires
    assert [when for when, _ in shown] == sorted(when for when, _ in shown)
    assert len({when for when, _ in shown}) == 5


async def test_the_tasks_page_says_why_each_is_yours_assigned_ones_first(api: Api):
    tokens = api.runtime.tokens
    dora = await tokens.create("dora", "user", teams=["housingofficers"])
    ann = await tokens.create("ann", "user")
    r = await api.call("POST", "/api/v1/process/example-application", token=dora, json={"targetId": "dora-own"})
    own = (await r.json())["id"]
    r = await api.call("POST", "/api/v1/process/example-application", token=ann, json={"targetId": "ann-1"})
    theirs = (await r.json())["id"]
    r = await api.call("PATCH", f"/api/v1/process/example-application/{theirs}", token=ann,
                       json={"assignment": {"type": "team", "value": "housingofficers"}})
    assert r.status == 204, await r.text()
    r = await api.call("POST", "/api/v1/process/example-application", token=ann, json={"targetId": "ann-2"})
    hidden = (await r.json())["id"]

    await sign_in(api, dora)
    page = await (await api.client.get("/ui/tasks")).text()
    rows = re.findall(r'href="/ui/processes/([0-9a-f-]{36})#task-heading".*?<td class="why">([^<]+)</td>', page, re.S)
    assert rows == [(theirs, "assigned to your team housingofficers"), (own, "you started it")]
    assert hidden not in page


async def test_a_change_landing_while_a_page_renders_is_streamed_to_it_not_skipped(api: Api, monkeypatch):
    r = await api.user("POST", "/api/v1/process/example-application", json={"targetId": "race"})
    pid = (await r.json())["id"]
    shown = (await api.runtime.instances.get(pid)).version
    instances = api.runtime.instances
    real_events = instances.events

    async def events_with_a_stop_landing_first(*args, **kwargs):
        monkeypatch.setattr(instances, "events", real_events)
        await instances.stop(BOB, StopInstance(pid, "stopped while the page rendered"))
        return await real_events(*args, **kwargs)

    monkeypatch.setattr(instances, "events", events_with_a_stop_landing_first)
    await sign_in(api, api.user_token)
    page = await (await api.client.get(f"/ui/processes/{pid}")).text()
    # The page shows the instance as it was loaded, and streams from right after it.
    assert f'/ui/processes/{pid}/live?after={shown}"' in page
    assert "Stopped" not in page[page.index('id="timeline"'):]
    stream = await api.client.get(f"/ui/processes/{pid}/live?after={shown}")
    frame = await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 10)
    stream.close()
    assert b"event: refresh" in frame and b"Stopped" in frame


async def test_the_icon_is_served_like_the_other_static_files(api: Api):
    for path, media in (("/favicon.ico", "image/vnd.microsoft.icon"), ("/ui/static/favicon.svg", "image/svg+xml"),
                        ("/ui/static/portal.css", "text/css")):
        r = await api.client.get(path)
        assert (r.status, r.content_type) == (200, media), path
        assert r.headers["ETag"] and r.headers["Last-Modified"] and "Cache-Control" not in r.headers, path
        again = await api.client.get(path, headers={"If-None-Match": r.headers["ETag"]})
        assert again.status == 304, path
    r = await api.client.get("/ui/sign-in")
    assert '<link rel="icon" href="/ui/static/favicon.svg" type="image/svg+xml">' in await r.text()
