"""Optimistic concurrency: the ETag is the definition's aggregate version; If-Match is honoured."""

from __future__ import annotations

import asyncio

import pytest

from tests.factories import a_configuration
from tests.problems import problem

BASE = "/api/process/v1"


async def aggregate_version(api, key: str = "P") -> int:
    return await api.runtime.pool.fetchval(
        "SELECT max(e.originator_version) FROM procession_events e"
        " JOIN definition_view d ON d.definition_id = e.originator_id WHERE d.key = $1",
        key,
    )



async def a_process(api, versions: int = 1):
    for n in range(1, versions + 1):
        r = await api.admin("POST", BASE, json={"_id": "P", **a_configuration(n)})
        assert r.status == 201
    return r


async def test_get_answers_the_aggregate_version_as_etag(api):
    await a_process(api, versions=2)

    r = await api.user("GET", f"{BASE}/P")

    assert r.headers["ETag"] == f'"{await aggregate_version(api)}"'


async def test_a_version_read_answers_the_aggregate_version_as_etag(api):
    await a_process(api, versions=2)

    r = await api.user("GET", f"{BASE}/P/1")

    assert r.headers["ETag"] == f'"{await aggregate_version(api)}"'


async def test_post_answers_the_new_aggregate_version_as_etag(api):
    r = await a_process(api)

    assert r.headers["ETag"] == f'"{await aggregate_version(api)}"'
    assert (await api.user("GET", f"{BASE}/P")).headers["ETag"] == r.headers["ETag"]


async def test_an_unchanged_post_answers_the_unchanged_etag(api):
    first = await a_process(api)

    r = await api.admin("POST", BASE, json={"_id": "P", **a_configuration(1)})

    assert r.headers["ETag"] == first.headers["ETag"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", f"{BASE}/P/1/PROD", None),
        ("DELETE", f"{BASE}/P/1", None),
        ("PUT", f"{BASE}/P", {"_id": "Q"}),
    ],
)
async def test_a_write_answers_the_new_aggregate_version_as_etag(api, method, path, body):
    await a_process(api, versions=2)

    r = await api.admin(method, path, json=body)

    assert r.status == 200
    key = (body or {}).get("_id", "P")
    assert r.headers["ETag"] == f'"{await aggregate_version(api, key)}"'


async def test_a_post_with_a_stale_if_match_is_refused_with_412_and_changes_nothing(api):
    first = await a_process(api)
    await api.admin("POST", BASE, json={"_id": "P", **a_configuration(2)})
    before = await api.event_count()

    r = await api.admin("POST", BASE, json={"_id": "P", **a_configuration(3)}, headers={"If-Match": first.headers["ETag"]})

    await problem(r, 412)
    assert await api.event_count() == before
    assert (await (await api.user("GET", f"{BASE}/P")).json())["_version"] == 2


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", f"{BASE}/P/1/PROD", None),
        ("PUT", f"{BASE}/P", {"_id": "Q"}),
        ("DELETE", f"{BASE}/P", None),
        ("DELETE", f"{BASE}/P/1", None),
        ("DELETE", f"{BASE}/P/*", None),
    ],
)
async def test_every_write_with_a_stale_if_match_is_refused_with_412_and_changes_nothing(api, method, path, body):
    first = await a_process(api)
    await api.admin("POST", BASE, json={"_id": "P", **a_configuration(2)})
    before = await api.event_count()

    r = await api.admin(method, path, json=body, headers={"If-Match": first.headers["ETag"]})

    await problem(r, 412)
    assert await api.event_count() == before


async def test_a_post_with_the_current_if_match_succeeds(api):
    first = await a_process(api)

    r = await api.admin("POST", BASE, json={"_id": "P", **a_configuration(2)}, headers={"If-Match": first.headers["ETag"]})

    assert r.status == 201
    assert (await r.json())["_version"] == 2


async def test_a_tag_with_the_current_if_match_succeeds(api):
    await a_process(api)
    etag = (await api.user("GET", f"{BASE}/P")).headers["ETag"]

    r = await api.admin("PUT", f"{BASE}/P/1/PROD", headers={"If-Match": etag})

    assert r.status == 200


async def test_if_match_star_means_any_version(api):
    await a_process(api)

    r = await api.admin("POST", BASE, json={"_id": "P", **a_configuration(2)}, headers={"If-Match": "*"})

    assert r.status == 201


async def test_if_match_on_a_process_that_does_not_exist_fails_the_precondition(api):
    r = await api.admin("POST", BASE, json={"_id": "NEW", **a_configuration(1)}, headers={"If-Match": '"1"'})

    assert r.status == 412
    assert await api.event_count() == 0


@pytest.mark.parametrize("value", ['"abc"', "²", '"' + "9" * 5000 + '"'])
async def test_an_unreadable_if_match_is_a_400_problem(api, value):
    await a_process(api)
    before = await api.event_count()

    r = await api.admin("POST", BASE, json={"_id": "P", **a_configuration(2)}, headers={"If-Match": value})

    await problem(r, 400)
    assert await api.event_count() == before


async def test_concurrent_changes_to_one_process_each_make_a_version_or_a_conflict(api):
    answers = await asyncio.gather(
        *(api.admin("POST", BASE, json={"_id": "P", **a_configuration(n)}) for n in range(1, 11))
    )

    statuses = [r.status for r in answers]
    assert set(statuses) <= {201, 409}, statuses
    listed = await (await api.user("GET", f"{BASE}/P/*")).json()
    assert len(listed) == statuses.count(201)
    assert sorted(int(v["version"]) for v in listed) == list(range(1, len(listed) + 1))
