"""Concord as its document says, route by route (issue 9, section 3): every start answers 200
`{"instanceId", "ok"}`, the same definition gets the same arguments on every route, a text
`request` part is JSON, `activeProfiles` is recorded, and the kill honours `If-Match`."""

from __future__ import annotations

import io

import aiohttp
import orjson

from tests.concord_face import BASE, MODEL, PORTAL, a_definition, status_of
from tests.concord_face import settings  # noqa: F401 (the fixture: the face's small caps)
from tests.problems import problem
from tests.zips import a_zip

ECHO = {"_id": "echo", "script": "echo-params", "input": {"message": "from the defaults", "count": 2}}


def _document_answer(r: aiohttp.ClientResponse, body: dict) -> None:
    assert r.status == 200, body
    assert "Location" not in r.headers
    assert body["ok"] is True and isinstance(body["instanceId"], str)
    assert set(body) <= {"instanceId", "ok", "status"}


async def test_every_concord_start_route_answers_200_with_instance_id_and_ok(api):
    await a_definition(api)
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("archive", io.BytesIO(a_zip({"flow.bpmn": MODEL})), filename="p.zip", content_type="application/zip")
    form.add_field("entryPoint", "quick")

    answers = [
        await api.user("POST", BASE, data=io.BytesIO(a_zip({"flow.bpmn": MODEL})), params={"entryPoint": "quick"},
                       headers={"Content-Type": "application/zip"}),
        await api.user("POST", BASE, data=form),
        await api.user("POST", f"{BASE}/review:default:main", json={}),
        await api.user("POST", f"{BASE}/review:main", params={"sync": "true"}, json={}),
        await api.user("GET", f"{PORTAL}/start", params={"entryPoint": "review:main"}, allow_redirects=False),
    ]

    for r in answers:
        _document_answer(r, await r.json())
    assert (await answers[3].json())["status"] == "SUSPENDED"


async def test_a_json_start_of_a_plain_name_stays_hackneys_201(api):
    r = await api.user("POST", f"{BASE}/example-application", json={"targetId": "t-1"})

    assert r.status == 201 and (await r.json())["id"]


async def test_the_same_definition_gets_the_same_arguments_on_every_route(api):
    assert (await api.admin("POST", "/api/process/v1", json=ECHO)).status == 201
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("entryPoint", "echo:default:")
    form.add_field("count", "3")

    by_json = await api.user("POST", f"{BASE}/echo:default:", json={"arguments": {"count": 3}})
    by_form = await api.user("POST", BASE, data=form)
    by_portal = await api.user("GET", f"{PORTAL}/start", params={"entryPoint": "echo:default:", "count": "3"})

    for r in (by_json, by_form, by_portal):
        assert r.status == 200, await r.text()
        entry = await status_of(api, (await r.json())["instanceId"])
        assert entry["meta"]["arguments"] == {"message": "from the defaults", "count": 3}


async def test_the_scripts_parameter_checks_apply_on_every_route(api):
    assert (await api.admin("POST", "/api/process/v1", json=ECHO)).status == 201
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("entryPoint", "echo:default:")
    form.add_field("count", "many")

    for r in (
        await api.user("POST", f"{BASE}/echo:default:", json={"arguments": {"count": "many"}}),
        await api.user("POST", BASE, data=form),
        await api.user("GET", f"{PORTAL}/start", params={"entryPoint": "echo:default:", "count": "many"}),
    ):
        body = await problem(r, 422)
        assert any(e.startswith("count:") for e in body["errors"]), body


async def test_a_request_part_sent_as_a_plain_text_field_is_read_as_json(api):
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("archive", io.BytesIO(a_zip({"flow.json": '{"script": "echo-params"}'})), filename="p.zip",
                   content_type="application/zip")
    form.add_field("request", orjson.dumps({"arguments": {"message": "from a text request"}}).decode())

    r = await api.user("POST", BASE, data=form)

    entry = await status_of(api, (await r.json())["instanceId"])
    assert entry["meta"]["arguments"] == {"message": "from a text request"}


async def test_a_text_request_part_that_is_not_json_is_400(api):
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("archive", io.BytesIO(a_zip({"flow.bpmn": MODEL})), filename="p.zip", content_type="application/zip")
    form.add_field("request", "{not json")

    await problem(await api.user("POST", BASE, data=form), 400)


async def test_active_profiles_are_recorded_and_shown_on_every_route(api):
    await a_definition(api)
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("archive", io.BytesIO(a_zip({"flow.bpmn": MODEL})), filename="p.zip", content_type="application/zip")
    form.add_field("entryPoint", "main")
    form.add_field("activeProfiles", "dev, eu")

    by_form = await api.user("POST", BASE, data=form)
    by_json = await api.user("POST", f"{BASE}/review:main", json={"activeProfiles": "dev,eu"})
    plain = await api.user("POST", f"{BASE}/review:main", json={})

    for r in (by_form, by_json):
        assert (await status_of(api, (await r.json())["instanceId"]))["activeProfiles"] == ["dev", "eu"]
    assert (await status_of(api, (await plain.json())["instanceId"]))["activeProfiles"] == []


async def test_the_kill_honours_if_match(api):
    await a_definition(api)
    r = await api.user("POST", f"{BASE}/review:main", json={})
    instance_id = (await r.json())["instanceId"]
    etag = (await api.user("GET", f"{BASE}/{instance_id}")).headers["ETag"]

    stale = await api.user("DELETE", f"{BASE}/{instance_id}", headers={"If-Match": '"1"'})
    await problem(stale, 412)
    assert (await status_of(api, instance_id))["status"] == "SUSPENDED"  # nothing changed
    fresh = await api.user("DELETE", f"{BASE}/{instance_id}", headers={"If-Match": etag})
    assert fresh.status == 204
    entry = await api.user("GET", f"{BASE}/{instance_id}")
    assert (await entry.json())["status"] == "CANCELLED"
    # A stale If-Match on a finished process is refused too; the current one is the usual no-op.
    await problem(await api.user("DELETE", f"{BASE}/{instance_id}", headers={"If-Match": etag}), 412)
    assert (await api.user("DELETE", f"{BASE}/{instance_id}", headers={"If-Match": entry.headers["ETag"]})).status == 204
