"""Listing process configurations: _limit, _skip, _sort, _distinct and field=value filters."""

from __future__ import annotations

import pytest

from tests.problems import problem

BASE = "/api/process/v1"

# Keys, names and services ordered differently, so each sort gives its own order.
PROCESSES = [
    {"_id": "K1", "name": "beta", "service": "ETL", "script": "s"},
    {"_id": "K2", "name": "alpha", "service": "ETL", "script": "s"},
    {"_id": "K3", "name": "alpha", "service": "MAIL", "script": "s"},
]


@pytest.fixture
async def listed(api):
    for body in PROCESSES:
        r = await api.admin("POST", BASE, json=body)
        assert r.status == 201
    return api


async def keys(api, **params: str) -> list[str]:
    r = await api.user("GET", BASE, params=params)
    assert r.status == 200, await r.text()
    return [p["_id"] for p in await r.json()]


async def test_the_list_holds_every_current_configuration_ordered_by_key(listed):
    r = await listed.user("GET", BASE)

    body = await r.json()
    assert [p["_id"] for p in body] == ["K1", "K2", "K3"]
    assert all(p["_type"] == "VarProcess" and p["_version"] == 1 for p in body)


async def test_limit_caps_the_list(listed):
    assert await keys(listed, _limit="2") == ["K1", "K2"]


async def test_limit_minus_one_lists_everything(listed):
    assert await keys(listed, _limit="-1") == ["K1", "K2", "K3"]


async def test_skip_leaves_out_the_first_ones(listed):
    assert await keys(listed, _skip="1", _limit="1") == ["K2"]


async def test_sort_takes_a_comma_list_with_minus_for_descending(listed):
    assert await keys(listed, _sort="name,-service") == ["K3", "K2", "K1"]


async def test_sort_takes_a_json_object(listed):
    assert await keys(listed, _sort='{"name": -1}') == ["K1", "K2", "K3"]


async def test_sort_json_ascending_with_a_tie_breaker(listed):
    assert await keys(listed, _sort='{"name": 1, "service": 1}') == ["K2", "K3", "K1"]


async def test_distinct_lists_each_value_once(listed):
    r = await listed.user("GET", BASE, params={"_distinct": "service"})

    assert await r.json() == ["ETL", "MAIL"]


async def test_distinct_id_lists_the_keys(listed):
    r = await listed.user("GET", BASE, params={"_distinct": "_id"})

    assert await r.json() == ["K1", "K2", "K3"]


async def test_a_field_filter_keeps_matching_configurations(listed):
    assert await keys(listed, service="ETL") == ["K1", "K2"]


async def test_filters_combine_with_and(listed):
    assert await keys(listed, service="ETL", name="alpha") == ["K2"]


async def test_a_filter_on_the_id_finds_one(listed):
    assert await keys(listed, _id="K3") == ["K3"]


async def test_a_filter_that_matches_nothing_gives_an_empty_list(listed):
    assert await keys(listed, service="NONE") == []


async def test_the_list_shows_the_current_version_after_a_change(listed):
    await listed.admin("POST", BASE, json={**PROCESSES[0], "service": "MAIL"})

    assert await keys(listed, service="MAIL") == ["K1", "K3"]


@pytest.mark.parametrize(
    "params",
    [
        {"_limit": "ten"},
        {"_limit": "-2"},
        {"_limit": "1.5"},
        {"_skip": "-1"},
        {"_limit": "99999999999999999999999"},
        {"_sort": "name;drop table x"},
        {"_sort": "{not json"},
        {"_distinct": "name", "_sort": "no such field!"},
        {"_distinct": "a b"},
        {"bad field": "x"},
    ],
)
async def test_a_malformed_query_parameter_is_a_400_problem(listed, params):
    r = await listed.user("GET", BASE, params=params)

    await problem(r, 400)


async def test_each_listed_configuration_reads_as_get_reads_it(listed):
    carol = await listed.runtime.tokens.create("carol", "admin")
    await listed.call("PUT", f"{BASE}/K1/1/PROD", token=carol)

    in_list = (await (await listed.user("GET", BASE, params={"_id": "K1"})).json())[0]

    assert in_list == await (await listed.user("GET", f"{BASE}/K1")).json()


async def test_distinct_gives_json_values_not_their_text(listed):
    await listed.admin("POST", BASE, json={"_id": "K4", "name": "delta", "script": "s", "enabled": False})
    await listed.admin("POST", BASE, json={"_id": "K5", "name": "eta", "script": "s", "enabled": True})

    r = await listed.user("GET", BASE, params={"_distinct": "enabled"})

    assert await r.json() == [False, True]
