"""The Hackney face through HTTP: start, read, trigger, update, list, and every refusal."""

from __future__ import annotations

import asyncio

from tests.problems import problem

BASE = "/api/v1/process"
EXAMPLE = "example-application"
FORM = {"title": "Mr", "firstName": "Patrick", "middleName": "", "surname": "Williams"}
DOCS = ["00578577-91c6-4244-a72c-c757fefe8d87", "c5f358f8-a57f-4b0a-bc49-c8ccc4e955d5"]


async def a_process(api, **body) -> str:
    r = await api.user("POST", f"{BASE}/{EXAMPLE}", json={"targetId": "t-1", "formData": FORM, **body})
    assert r.status == 201, await r.text()
    return (await r.json())["id"]


async def read(api, process_id: str, name: str = EXAMPLE):
    r = await api.user("GET", f"{BASE}/{name}/{process_id}")
    return r, await r.json()


async def test_starting_the_example_answers_201_with_location_and_both_ids(api):
    r = await api.user("POST", f"{BASE}/{EXAMPLE}", json={"targetId": "t-1", "formData": FORM})

    body = await r.json()
    assert r.status == 201
    assert body["ok"] is True and body["id"] == body["instanceId"]
    assert r.headers["Location"] == f"{BASE}/{EXAMPLE}/{body['id']}"


async def test_starting_with_process_name_in_the_body_starts_that_process(api):
    r = await api.user("POST", BASE, json={"processName": EXAMPLE, "targetId": "t-9"})

    assert r.status == 201
    _, body = await read(api, (await r.json())["id"])
    assert (body["processName"], body["targetId"], body["currentState"]["state"]) == (EXAMPLE, "t-9", "ApplicationStarted")


async def test_a_new_process_shows_its_first_state_triggers_assignment_and_data(api):
    process_id = await a_process(api)

    r, body = await read(api, process_id)

    assert r.headers["ETag"] == f'"{body["versionNumber"]}"'
    state = body["currentState"]
    assert state["state"] == "ApplicationStarted" and state["permittedTriggers"] == ["AttachDocuments"]
    assert state["assignment"] == {"patch": "housingofficers"}
    assert state["processData"] == {"targetId": "t-1", "formData": FORM, "documents": None}
    assert body["previousStates"] == [] and body["processStates"] == [state]


async def test_triggers_in_the_path_and_in_the_body_walk_the_example_to_its_final_state(api):
    process_id = await a_process(api)

    r1 = await api.user("PATCH", f"{BASE}/{EXAMPLE}/{process_id}/AttachDocuments", json={"documents": DOCS})
    r2 = await api.user("PATCH", f"{BASE}/{EXAMPLE}/{process_id}", json={"trigger": "SubmitApplication"})

    assert (r1.status, r2.status) == (204, 204)
    _, body = await read(api, process_id)
    assert body["currentState"]["state"] == "ApplicationSubmitted"
    assert body["currentState"]["permittedTriggers"] == []
    assert [s["state"] for s in body["processStates"]] == ["ApplicationStarted", "DocumentsAttached", "ApplicationSubmitted"]
    assert [s["state"] for s in body["previousStates"]] == ["ApplicationStarted", "DocumentsAttached"]
    assert body["processStates"][1]["processData"]["documents"] == DOCS


async def test_a_trigger_not_permitted_is_400_and_changes_nothing(api):
    process_id = await a_process(api)
    _, before = await read(api, process_id)

    r = await api.user("PATCH", f"{BASE}/{EXAMPLE}/{process_id}/SubmitApplication", json={"formData": {"x": 1}})

    assert "Cannot trigger SubmitApplication from state ApplicationStarted" in (await problem(r, 400))["detail"]
    _, after = await read(api, process_id)
    assert after == before


async def test_leaving_a_state_without_its_required_data_is_409_naming_it(api):
    r = await api.user("POST", f"{BASE}/{EXAMPLE}", json={"targetId": "t-1"})
    process_id = (await r.json())["id"]

    r = await api.user("PATCH", f"{BASE}/{EXAMPLE}/{process_id}/AttachDocuments", json={})

    assert any("form data is required" in e for e in (await problem(r, 409))["errors"])


async def test_leaving_documents_attached_needs_a_document(api):
    process_id = await a_process(api)
    await api.user("PATCH", f"{BASE}/{EXAMPLE}/{process_id}/AttachDocuments", json={})

    r = await api.user("PATCH", f"{BASE}/{EXAMPLE}/{process_id}/SubmitApplication", json={})

    assert any("document" in e for e in (await problem(r, 409))["errors"])


async def test_a_stale_if_match_is_409_and_a_current_one_is_accepted(api):
    process_id = await a_process(api)
    r, body = await read(api, process_id)

    stale = await api.user("PATCH", f"{BASE}/{EXAMPLE}/{process_id}", json={"formData": {"a": 1}},
                           headers={"If-Match": f'"{body["versionNumber"] - 1}"'})
    fresh = await api.user("PATCH", f"{BASE}/{EXAMPLE}/{process_id}", json={"formData": {"a": 1}},
                           headers={"If-Match": r.headers["ETag"]})

    await problem(stale, 409)
    assert fresh.status == 204 and fresh.headers["ETag"] != r.headers["ETag"]


async def test_a_patch_without_trigger_updates_form_data_and_assignment(api):
    process_id = await a_process(api)

    r = await api.user("PATCH", f"{BASE}/{EXAMPLE}/{process_id}",
                       json={"processData": {"formData": "{}"}, "formData": {"phone": "1"}, "assignment": {"patch": "p2"}})

    assert r.status == 204
    _, body = await read(api, process_id)
    assert body["currentState"]["processData"]["formData"] == {**FORM, "phone": "1"}
    assert body["currentState"]["assignment"] == {"patch": "p2"}
    assert body["currentState"]["state"] == "ApplicationStarted"


async def test_processes_are_listed_by_target_with_a_page_token(api):
    ids = [await a_process(api, targetId="T") for _ in range(3)]
    await a_process(api, targetId="other")

    first = await (await api.user("GET", BASE, params={"targetId": "T", "pageSize": "2"})).json()
    token = first["paginationDetails"]["nextToken"]
    second = await (await api.user("GET", BASE, params={"targetId": "T", "pageSize": "2", "paginationToken": token})).json()

    assert [p["id"] for p in first["results"] + second["results"]] == ids
    assert second["paginationDetails"]["nextToken"] is None


async def test_bad_input_is_a_clear_4xx(api):
    process_id = await a_process(api)
    cases = [
        (await api.user("POST", BASE, data=b"hello", headers={"Content-Type": "text/plain"}), 415),
        (await api.user("POST", BASE, data=b"PK\x03\x04", headers={"Content-Type": "application/octet-stream"}), 400),
        (await api.user("POST", BASE, json={"targetId": "x"}), 422),
        (await api.user("POST", f"{BASE}/{EXAMPLE}", json={"formData": "not json"}), 422),
        (await api.user("POST", f"{BASE}/{EXAMPLE}", json={"unknown": 1}), 422),
        (await api.user("POST", f"{BASE}/no-such-process", json={}), 404),
        (await api.user("GET", f"{BASE}/{EXAMPLE}/not-a-uuid"), 404),
        (await api.user("GET", f"{BASE}/other-name/{process_id}"), 404),
        (await api.user("GET", BASE, params={"pageSize": "x"}), 400),
        (await api.user("PATCH", f"{BASE}/{EXAMPLE}/{process_id}", data=b"{", headers={"Content-Type": "application/json"}), 400),
    ]
    for response, status in cases:
        await problem(response, status)


async def test_a_nul_anywhere_in_a_start_or_an_update_is_422_and_nothing_is_stored(api):
    # No JSON column can hold a NUL: stored in an event, it would stop the read models for everyone.
    process_id = await a_process(api)
    before = await api.event_count()
    for body in ({"assignment": {"type": "user", "value": "bob\x00"}}, {"formData": {"a\x00": 1}},
                 {"relatedEntities": [{"id": "\x00"}]}, {"documents": ["\x00"]}, {"targetId": "t\x00"}):
        refused = await problem(await api.user("POST", f"{BASE}/{EXAMPLE}", json=body), 422)
        assert any("NUL" in line for line in refused["errors"]), refused
    await problem(await api.user("PATCH", f"{BASE}/{EXAMPLE}/{process_id}", json={"formData": {"x": "\x00"}}), 422)
    assert await api.event_count() == before
    assert (await a_process(api)) != process_id  # and the read models still follow
    listed = await api.user("GET", BASE, params={"targetId": "t\x00"})  # a filter: it matches nothing
    assert listed.status == 200 and (await listed.json())["results"] == []


async def test_concords_literal_second_segments_are_not_hackney_routes(api):
    r = await api.user("GET", f"{BASE}/{EXAMPLE}/log")

    await problem(r, 404, 405)


async def test_concurrent_triggers_on_one_process_let_one_win_and_lose_nothing(api):
    process_id = await a_process(api)
    path = f"{BASE}/{EXAMPLE}/{process_id}/AttachDocuments"

    responses = await asyncio.gather(*(api.user("PATCH", path, json={}) for _ in range(2)))

    statuses = sorted(r.status for r in responses)
    assert statuses[0] == 204 and statuses[1] in (400, 409)
    _, body = await read(api, process_id)
    assert [s["state"] for s in body["processStates"]] == ["ApplicationStarted", "DocumentsAttached"]


async def test_an_idempotent_retry_of_a_start_returns_the_same_process(api):
    headers = {"Idempotency-Key": "start-1"}
    r1 = await api.user("POST", f"{BASE}/{EXAMPLE}", json={"formData": FORM}, headers=headers)
    r2 = await api.user("POST", f"{BASE}/{EXAMPLE}", json={"formData": FORM}, headers=headers)

    assert (await r1.json())["id"] == (await r2.json())["id"]
    listed = await (await api.user("GET", BASE)).json()
    assert len(listed["results"]) == 1


async def test_an_idempotency_key_reused_for_another_request_is_refused_and_changes_nothing(api):
    headers = {"Idempotency-Key": "start-2"}
    first = await api.user("POST", f"{BASE}/{EXAMPLE}", json={"formData": FORM}, headers=headers)
    other = await api.user("POST", f"{BASE}/{EXAMPLE}", json={"formData": {"other": "data"}}, headers=headers)

    assert first.status == 201
    await problem(other, 422)
    listed = await (await api.user("GET", BASE)).json()
    assert len(listed["results"]) == 1


async def test_the_documents_trailing_slash_reads_the_process_like_the_path_without_it(api):
    process_id = await a_process(api)

    plain, body = await read(api, process_id)
    slashed = await api.user("GET", f"{BASE}/{EXAMPLE}/{process_id}/")

    assert slashed.status == 200 and await slashed.json() == body
    assert slashed.headers["ETag"] == plain.headers["ETag"]


async def test_a_trailing_slash_still_needs_a_token_and_hides_other_users_processes(api):
    process_id = await a_process(api)

    ann = await api.runtime.tokens.create("ann", "user")

    anonymous = await api.call("GET", f"{BASE}/{EXAMPLE}/{process_id}/", token=None)
    other = await api.call("GET", f"{BASE}/{EXAMPLE}/{process_id}/", token=ann)

    await problem(anonymous, 401)
    await problem(other, 404)
    assert "Patrick" not in await other.text()
    await problem(await api.user("GET", f"{BASE}/{EXAMPLE}/{process_id}/nothing/"), 404)


async def test_a_trailing_slash_on_a_get_is_tolerated_on_every_face(api):
    r = await api.admin("POST", "/api/process/v1", json={"_id": "cfg", "script": "echo"})
    assert r.status in (200, 201), await r.text()

    for path in ("/api/process/v1/cfg/", "/api/process/v1/", "/api/v1/process/"):
        assert (await api.user("GET", path)).status == 200, path


async def test_each_state_carries_the_target_in_its_process_data_like_the_document(api):
    process_id = await a_process(api, documents=DOCS)

    _, body = await read(api, process_id)

    assert body["targetId"] == "t-1"
    assert body["currentState"]["processData"] == {"targetId": "t-1", "formData": FORM, "documents": DOCS}


async def test_a_patch_echoing_a_states_process_data_is_accepted(api):
    process_id = await a_process(api)
    _, before = await read(api, process_id)
    echoed = before["currentState"]["processData"]

    r = await api.user("PATCH", f"{BASE}/{EXAMPLE}/{process_id}/AttachDocuments", json={"processData": echoed})

    assert r.status == 204, await r.text()
    _, after = await read(api, process_id)
    assert after["currentState"]["state"] == "DocumentsAttached"
    assert after["currentState"]["processData"] == echoed


async def test_a_patch_changing_the_target_in_process_data_is_422_and_changes_nothing(api):
    process_id = await a_process(api)
    _, before = await read(api, process_id)

    r = await api.user("PATCH", f"{BASE}/{EXAMPLE}/{process_id}",
                       json={"processData": {"targetId": "another", "formData": {"x": 1}}})

    await problem(r, 422)
    _, after = await read(api, process_id)
    assert after == before


async def test_the_largest_page_is_full_with_a_next_token_and_a_larger_one_is_400(api):
    ids = []
    for _ in range(11):  # bounded batches: the machine is shared
        ids += await asyncio.gather(*(a_process(api, targetId="P") for _ in range(10)))
    assert len(ids) == 110

    first = await (await api.user("GET", BASE, params={"targetId": "P", "pageSize": "100"})).json()
    token = first["paginationDetails"]["nextToken"]
    rest = await (await api.user("GET", BASE, params={"targetId": "P", "pageSize": "100", "paginationToken": token})).json()

    assert len(first["results"]) == 100 and token is not None
    assert len(rest["results"]) == 10 and rest["paginationDetails"]["nextToken"] is None
    assert sorted(p["id"] for p in first["results"] + rest["results"]) == sorted(ids)
    await problem(await api.user("GET", BASE, params={"targetId": "P", "pageSize": "101"}), 400)
    await problem(await api.user("GET", BASE, params={"targetId": "P", "pageSize": "0"}), 400)
