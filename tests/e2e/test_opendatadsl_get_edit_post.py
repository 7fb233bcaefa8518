"""OpenDataDSL clients as the document's examples write them: GET-edit-POST, and no Content-Type."""

from __future__ import annotations

import orjson

from tests.problems import problem

BASE = "/api/process/v1"
LOADER = {"name": "LOADER", "service": "ETL", "script": "currency", "description": "first"}
NO_TYPE = ("Content-Type",)  # the test client would otherwise label a bytes body octet-stream


async def test_a_configuration_as_read_is_accepted_back_and_unchanged_content_makes_no_version(api):
    assert (await api.admin("POST", BASE, json=LOADER)).status == 201
    read = await (await api.admin("GET", f"{BASE}/LOADER")).json()
    assert {"_key", "_version", "_timestamp", "_user", "_type"} <= set(read)

    r = await api.admin("POST", BASE, json=read)
    assert r.status == 200
    assert (await r.json())["_version"] == 1
    assert [v["version"] for v in await (await api.admin("GET", f"{BASE}/LOADER/*")).json()] == ["1"]

    r = await api.admin("POST", BASE, json={**read, "description": "edited"})
    assert r.status == 201
    saved = await r.json()
    assert (saved["_id"], saved["_version"], saved["description"]) == ("LOADER", 2, "edited")
    # The read-only fields were not stored as configuration: the user is the writer, not the echo.
    again = await (await api.admin("GET", f"{BASE}/LOADER")).json()
    assert again["_timestamp"] != read["_timestamp"]
    assert set(again) - {"_id", "_type", "_key", "_version", "_timestamp", "_user"} == {*LOADER}


async def test_an_old_version_as_read_is_saved_under_its_key_as_a_new_version(api):
    assert (await api.admin("POST", BASE, json=LOADER)).status == 201
    assert (await api.admin("POST", BASE, json={**LOADER, "description": "second"})).status == 201
    old = await (await api.admin("GET", f"{BASE}/LOADER/1")).json()
    assert old["_id"] != "LOADER" and old["_key"] == "LOADER"  # the version's object id

    r = await api.admin("POST", BASE, json=old)
    assert r.status == 201
    restored = await r.json()
    assert (restored["_id"], restored["_version"], restored["description"]) == ("LOADER", 3, "first")
    assert (await api.admin("GET", f"{BASE}/{old['_id']}")).status == 404


async def test_a_read_configuration_under_a_new_id_is_a_copy(api):
    assert (await api.admin("POST", BASE, json=LOADER)).status == 201
    read = await (await api.admin("GET", f"{BASE}/LOADER")).json()
    r = await api.admin("POST", BASE, json={**read, "_id": "LOADER_COPY"})
    assert r.status == 201
    assert (await r.json())["_id"] == "LOADER_COPY"
    assert (await (await api.admin("GET", f"{BASE}/LOADER")).json())["_version"] == 1


async def test_read_only_fields_of_the_wrong_type_are_refused(api):
    r = await api.admin("POST", BASE, json={**LOADER, "_version": "one"})
    body = await problem(r, 422)
    assert "_version" in str(body)


async def test_post_and_rename_without_content_type_are_read_as_json(api):
    r = await api.admin("POST", BASE, data=orjson.dumps(LOADER), skip_auto_headers=NO_TYPE)
    assert r.status == 201, await r.text()
    assert (await r.json())["_id"] == "LOADER"

    r = await api.admin("PUT", f"{BASE}/LOADER", data=b'{"_id": "LOADER1"}', skip_auto_headers=NO_TYPE)
    assert r.status == 200, await r.text()
    assert (await r.json())["_id"] == "LOADER1"
    assert (await api.admin("GET", f"{BASE}/LOADER1")).status == 200


async def test_a_body_without_content_type_that_is_not_json_is_415_and_stores_nothing(api):
    before = await api.event_count()
    r = await api.admin("POST", BASE, data=b"name=LOADER", skip_auto_headers=NO_TYPE)
    body = await problem(r, 415)
    assert "no Content-Type" in body["detail"]
    assert await api.event_count() == before


async def test_the_lenient_reading_is_this_faces_only(api):
    # Hackney's update reads its body before it looks the process up.
    path = "/api/v1/process/x/00000000-0000-0000-0000-000000000000"
    r = await api.admin("PATCH", path, data=b'{"formData": {}}', skip_auto_headers=NO_TYPE)
    await problem(r, 415)
