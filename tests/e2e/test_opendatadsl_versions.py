"""Versions and tags of a process configuration, through the OpenDataDSL routes."""

from __future__ import annotations

import re

import pytest

from tests.factories import a_configuration
from tests.problems import problem

BASE = "/api/process/v1"


async def a_process(api, key: str = "P", versions: int = 1) -> None:
    for n in range(1, versions + 1):
        r = await api.admin("POST", BASE, json={"_id": key, **a_configuration(n)})
        assert r.status == 201, await r.text()


async def versions_of(api, key: str = "P") -> list[dict]:
    r = await api.admin("GET", f"{BASE}/{key}/*")
    assert r.status == 200
    return await r.json()


async def test_posting_an_unchanged_configuration_makes_no_new_version(api):
    await a_process(api)

    r = await api.admin("POST", BASE, json={"_id": "P", **a_configuration(1)})

    assert r.status == 200
    assert (await r.json())["_version"] == 1
    assert len(await versions_of(api)) == 1


async def test_posting_a_changed_configuration_makes_a_new_version(api):
    await a_process(api)

    r = await api.admin("POST", BASE, json={"_id": "P", **a_configuration(1, description="changed")})

    assert r.status == 201
    body = await r.json()
    assert (body["_version"], body["description"]) == (2, "changed")
    assert [v["version"] for v in await versions_of(api)] == ["2", "1"]


async def test_the_version_list_is_newest_first_in_the_documents_shape(api):
    await a_process(api, versions=3)

    listed = await versions_of(api)

    assert [v["version"] for v in listed] == ["3", "2", "1"]
    for entry in listed:
        assert set(entry) == {"id", "tags", "timestamp", "type", "user", "version"}
        assert (entry["tags"], entry["type"], entry["user"]) == ([], "VarProcess", "alice")
    assert listed[0]["timestamp"] >= listed[1]["timestamp"] >= listed[2]["timestamp"]


async def test_a_non_current_version_is_identified_by_its_object_id(api):
    await a_process(api, versions=2)
    object_ids = {v["version"]: v["id"] for v in await versions_of(api)}

    old = await (await api.admin("GET", f"{BASE}/P/1")).json()
    current = await (await api.admin("GET", f"{BASE}/P/2")).json()

    assert old["_id"] == object_ids["1"]
    assert re.fullmatch(r"[0-9a-f]{24}", old["_id"])
    assert current["_id"] == "P"


async def test_latest_names_the_current_version(api):
    await a_process(api, versions=2)

    r = await api.admin("GET", f"{BASE}/P/~LATEST")

    assert r.status == 200
    body = await r.json()
    assert (body["_id"], body["_version"]) == ("P", 2)


async def test_a_version_that_never_existed_is_not_found(api):
    await a_process(api)

    await problem(await api.admin("GET", f"{BASE}/P/7"), 404)


async def test_a_tag_names_the_version_it_was_put_on(api):
    await a_process(api, versions=2)

    r = await api.admin("PUT", f"{BASE}/P/1/PROD")

    assert r.status == 200
    tagged = await (await api.admin("GET", f"{BASE}/P/PROD")).json()
    assert tagged["_version"] == 1
    assert [v["tags"] for v in await versions_of(api)] == [[], ["PROD"]]


async def test_a_tag_moves_when_put_on_another_version(api):
    await a_process(api, versions=2)
    await api.admin("PUT", f"{BASE}/P/1/PROD")

    r = await api.admin("PUT", f"{BASE}/P/2/PROD")

    assert r.status == 200
    assert [v["tags"] for v in await versions_of(api)] == [["PROD"], []]
    assert (await (await api.admin("GET", f"{BASE}/P/PROD")).json())["_version"] == 2


async def test_tagging_a_version_that_does_not_exist_is_not_found_and_changes_nothing(api):
    await a_process(api)
    before = await api.event_count()

    await problem(await api.admin("PUT", f"{BASE}/P/9/PROD"), 404)

    assert await api.event_count() == before
    assert (await api.admin("GET", f"{BASE}/P/PROD")).status == 404


@pytest.mark.parametrize("tag", ["~LATEST", "42", "*", "no spaces"])
async def test_a_reserved_numeric_or_malformed_tag_is_refused(api, tag):
    await a_process(api)
    before = await api.event_count()

    body = await problem(await api.admin("PUT", f"{BASE}/P/1/{tag}"), 422)

    assert any(e.startswith("tag:") for e in body["errors"])
    assert await api.event_count() == before


async def test_deleting_a_tag_removes_only_the_tag(api):
    await a_process(api, versions=2)
    await api.admin("PUT", f"{BASE}/P/1/PROD")

    r = await api.admin("DELETE", f"{BASE}/P/PROD")

    assert r.status == 200
    assert [(v["version"], v["tags"]) for v in await versions_of(api)] == [("2", []), ("1", [])]
    assert (await api.admin("GET", f"{BASE}/P/PROD")).status == 404
    assert (await api.admin("GET", f"{BASE}/P/1")).status == 200


async def test_deleting_a_tag_that_does_not_exist_is_not_found(api):
    await a_process(api)
    before = await api.event_count()

    await problem(await api.admin("DELETE", f"{BASE}/P/PROD"), 404)

    assert await api.event_count() == before


async def test_deleting_a_version_number_removes_that_version_only(api):
    await a_process(api, versions=3)

    r = await api.admin("DELETE", f"{BASE}/P/2")

    assert r.status == 200
    assert [v["version"] for v in await versions_of(api)] == ["3", "1"]
    assert (await api.admin("GET", f"{BASE}/P/2")).status == 404
    assert (await (await api.admin("GET", f"{BASE}/P")).json())["_version"] == 3


async def test_deleting_a_tagged_version_takes_its_tag_with_it(api):
    await a_process(api, versions=2)
    await api.admin("PUT", f"{BASE}/P/1/PROD")

    await api.admin("DELETE", f"{BASE}/P/1")

    assert (await api.admin("GET", f"{BASE}/P/PROD")).status == 404


async def test_deleting_the_key_rolls_back_one_version(api):
    await a_process(api, versions=2)

    r = await api.admin("DELETE", f"{BASE}/P")

    assert r.status == 200
    assert (await r.json())["_version"] == 1
    current = await (await api.admin("GET", f"{BASE}/P")).json()
    assert (current["_version"], current["description"]) == (1, a_configuration(1)["description"])


async def test_rolling_back_the_only_version_deletes_the_process(api):
    await a_process(api)

    r = await api.admin("DELETE", f"{BASE}/P")

    assert r.status == 204
    await problem(await api.admin("GET", f"{BASE}/P"), 404)
    assert await (await api.admin("GET", BASE)).json() == []


async def test_deleting_all_versions_deletes_the_process(api):
    await a_process(api, versions=3)

    r = await api.admin("DELETE", f"{BASE}/P/*")

    assert r.status == 204
    await problem(await api.admin("GET", f"{BASE}/P"), 404)
    await problem(await api.admin("GET", f"{BASE}/P/*"), 404)


async def test_a_deleted_process_keeps_its_history_in_the_log(api):
    await a_process(api, versions=2)
    before = await api.event_count()

    await api.admin("DELETE", f"{BASE}/P/*")

    assert await api.event_count() > before


async def test_version_numbers_are_not_reused_after_a_rollback(api):
    await a_process(api, versions=2)
    await api.admin("DELETE", f"{BASE}/P")

    r = await api.admin("POST", BASE, json={"_id": "P", **a_configuration(3)})

    assert (await r.json())["_version"] == 3
    assert [v["version"] for v in await versions_of(api)] == ["3", "1"]


async def test_a_recreated_key_starts_a_new_definition_at_version_one(api):
    await a_process(api, versions=2)
    old_ids = {v["id"] for v in await versions_of(api)}
    await api.admin("DELETE", f"{BASE}/P/*")

    r = await api.admin("POST", BASE, json={"_id": "P", **a_configuration(5)})

    assert r.status == 201
    assert (await r.json())["_version"] == 1
    listed = await versions_of(api)
    assert [v["version"] for v in listed] == ["1"]
    assert listed[0]["id"] not in old_ids


async def test_a_renamed_process_keeps_its_versions_and_tags(api):
    await a_process(api, versions=2)
    await api.admin("PUT", f"{BASE}/P/1/PROD")

    r = await api.admin("PUT", f"{BASE}/P", json={"_id": "Q"})

    assert r.status == 200
    assert [(v["version"], v["tags"]) for v in await versions_of(api, "Q")] == [("2", []), ("1", ["PROD"])]
    await problem(await api.admin("GET", f"{BASE}/P/*"), 404)


async def test_a_renamed_away_key_can_be_used_by_a_new_process(api):
    await a_process(api)
    await api.admin("PUT", f"{BASE}/P", json={"_id": "Q"})

    r = await api.admin("POST", BASE, json={"_id": "P", **a_configuration(9)})

    assert r.status == 201
    assert (await r.json())["_version"] == 1
    assert (await (await api.admin("GET", f"{BASE}/Q")).json())["description"] == a_configuration(1)["description"]


async def test_a_write_answers_the_configuration_a_read_then_gives(api):
    r = await api.admin("POST", BASE, json={"_id": "P", **a_configuration(1)})

    assert await r.json() == await (await api.user("GET", f"{BASE}/P")).json()


async def test_a_rename_answers_the_configuration_a_read_of_the_new_key_gives(api):
    await a_process(api, versions=2)

    r = await api.admin("PUT", f"{BASE}/P", json={"_id": "Q"})

    assert await r.json() == await (await api.user("GET", f"{BASE}/Q")).json()


async def test_an_old_version_reads_the_same_by_number_and_by_tag(api):
    await a_process(api, versions=2)
    await api.admin("PUT", f"{BASE}/P/1/PROD")

    by_tag = await (await api.user("GET", f"{BASE}/P/PROD")).json()

    assert by_tag == await (await api.user("GET", f"{BASE}/P/1")).json()
