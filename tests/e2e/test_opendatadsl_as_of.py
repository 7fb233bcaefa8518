"""Time travel: `GET /api/process/v1/{key}?asOf=` by aggregate version or by moment."""

from __future__ import annotations

from datetime import timezone

import pytest

from tests.factories import a_configuration
from tests.problems import problem

BASE = "/api/process/v1"


async def save(api, n: int):
    r = await api.admin("POST", BASE, json={"_id": "P", **a_configuration(n)})
    assert r.status == 201
    return r


async def test_as_of_an_aggregate_version_gives_the_configuration_as_it_was(api):
    first = await save(api, 1)
    await save(api, 2)

    r = await api.user("GET", f"{BASE}/P", params={"asOf": first.headers["ETag"].strip('"')})

    assert r.status == 200
    body = await r.json()
    assert (body["_version"], body["description"]) == (1, a_configuration(1)["description"])
    assert r.headers["ETag"] == first.headers["ETag"]


async def test_as_of_a_moment_gives_the_configuration_as_it_was(api):
    await save(api, 1)
    moment = await api.runtime.pool.fetchval("SELECT max(recorded_at) FROM procession_events")
    await save(api, 2)

    r = await api.user("GET", f"{BASE}/P", params={"asOf": moment.isoformat()})

    assert r.status == 200
    assert (await r.json())["_version"] == 1


async def test_as_of_a_moment_in_utc_with_z_is_understood(api):
    await save(api, 1)
    moment = await api.runtime.pool.fetchval("SELECT max(recorded_at) FROM procession_events")
    await save(api, 2)
    stamp = moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")

    r = await api.user("GET", f"{BASE}/P", params={"asOf": stamp})

    assert (await r.json())["_version"] == 1


async def test_as_of_the_current_version_gives_the_current_configuration(api):
    await save(api, 1)
    latest = await save(api, 2)

    r = await api.user("GET", f"{BASE}/P", params={"asOf": latest.headers["ETag"].strip('"')})

    assert (await r.json())["_version"] == 2


async def test_as_of_a_moment_before_the_process_existed_is_not_found(api):
    await save(api, 1)

    r = await api.user("GET", f"{BASE}/P", params={"asOf": "2001-01-01T00:00:00Z"})

    await problem(r, 404)


async def test_as_of_an_old_version_sees_a_version_since_rolled_back(api):
    await save(api, 1)
    second = await save(api, 2)
    await api.admin("DELETE", f"{BASE}/P")

    r = await api.user("GET", f"{BASE}/P", params={"asOf": second.headers["ETag"].strip('"')})

    assert (await r.json())["_version"] == 2


@pytest.mark.parametrize(
    "as_of",
    ["yesterday", "2024-13-01", "²", "-1", "99999999999999999999999", "9" * 5000,
     "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"],
)
async def test_a_malformed_as_of_is_a_400_problem(api, as_of):
    await save(api, 1)

    r = await api.user("GET", f"{BASE}/P", params={"asOf": as_of})

    await problem(r, 400)
    assert "asOf" in (await r.json(content_type=None))["detail"]
