"""Starting a configuration through the Concord face by entry point, with and without `sync`."""

from __future__ import annotations

from tests.concord_face import BASE, a_definition, start, status_of
from tests.concord_face import settings  # noqa: F401 (the fixture: the face's small caps)
from tests.problems import problem


async def test_an_entry_point_with_repository_and_flow_starts_that_flow_and_answers_as_the_document(api):
    await a_definition(api)

    r = await api.user("POST", f"{BASE}/review:default:main", json={"arguments": {"amount": 5}})

    body = await r.json()
    assert r.status == 200 and "Location" not in r.headers
    assert body == {"instanceId": body["instanceId"], "ok": True}
    entry = await status_of(api, body["instanceId"])
    assert (entry["status"], entry["projectName"], entry["initiator"]) == ("SUSPENDED", "review", "bob")
    # The configuration's `input` defaults apply to what was not given (issue 9).
    assert entry["currentElement"] == "Approve" and entry["meta"]["arguments"] == {"amount": 5, "note": ""}


async def test_project_colon_flow_names_the_start_event(api):
    await a_definition(api)

    started = await start(api, "review:quick")

    assert (await status_of(api, started["instanceId"]))["status"] == "FINISHED"


async def test_a_repository_that_is_a_version_number_picks_that_version(api):
    await a_definition(api)

    started = await start(api, "review:1:main")

    assert (await status_of(api, started["instanceId"]))["repoName"] == "1"


async def test_an_unknown_repository_tag_or_project_is_404(api):
    await a_definition(api)

    await problem(await api.user("POST", f"{BASE}/review:nosuchtag:main", json={}), 404)
    await problem(await api.user("POST", f"{BASE}/nosuch:default:main", json={}), 404)


async def test_an_entry_point_with_too_many_parts_is_400(api):
    await problem(await api.user("POST", f"{BASE}/a:b:c:d", json={}), 400)


async def test_sync_waits_until_the_process_waits_on_a_person(api):
    await a_definition(api)

    r = await api.user("POST", f"{BASE}/review:default:main", params={"sync": "true"}, json={})

    assert r.status == 200
    assert (await r.json())["status"] == "SUSPENDED"


async def test_sync_that_is_not_a_boolean_is_400(api):
    await a_definition(api)

    await problem(await api.user("POST", f"{BASE}/review:default:main", params={"sync": "maybe"}, json={}), 400)


async def test_a_concord_start_is_readable_through_hackney_and_altinn(api):
    await a_definition(api)
    instance_id = (await start(api, "review:default:main"))["instanceId"]

    hackney = await api.user("GET", f"{BASE}/review/{instance_id}")
    altinn = await api.user("GET", f"/apps/review/api/v1/instances/0/{instance_id}/process")

    assert (await hackney.json())["currentState"]["state"] == "Approve"
    assert (await altinn.json())["currentTask"]["elementId"] == "Approve"
