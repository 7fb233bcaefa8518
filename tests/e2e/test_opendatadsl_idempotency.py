"""Retrying a write with an `Idempotency-Key` answers the first call's result again."""

from __future__ import annotations

from tests.factories import a_configuration
from tests.problems import problem

BASE = "/api/process/v1"



def key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


async def test_a_retried_post_answers_the_first_result_even_after_a_later_change(api):
    first = await api.admin("POST", BASE, json={"_id": "P", **a_configuration(1)}, headers=key("k-1"))
    first_body = await first.json()
    await api.admin("POST", BASE, json={"_id": "P", **a_configuration(2)})

    retry = await api.admin("POST", BASE, json={"_id": "P", **a_configuration(1)}, headers=key("k-1"))

    assert (retry.status, await retry.json()) == (first.status, first_body)
    assert retry.headers["ETag"] == first.headers["ETag"]
    assert (await (await api.user("GET", f"{BASE}/P")).json())["_version"] == 2


async def test_a_retried_post_records_nothing_more(api):
    await api.admin("POST", BASE, json={"_id": "P", **a_configuration(1)}, headers=key("k-1"))
    before = await api.event_count()

    await api.admin("POST", BASE, json={"_id": "P", **a_configuration(1)}, headers=key("k-1"))

    assert await api.event_count() == before


async def test_a_retried_rollback_answers_the_first_result_instead_of_rolling_back_again(api):
    for n in (1, 2, 3):
        await api.admin("POST", BASE, json={"_id": "P", **a_configuration(n)})
    first = await api.admin("DELETE", f"{BASE}/P", headers=key("rollback-1"))

    retry = await api.admin("DELETE", f"{BASE}/P", headers=key("rollback-1"))

    assert (retry.status, await retry.json()) == (first.status, await first.json())
    assert (await (await api.user("GET", f"{BASE}/P")).json())["_version"] == 2


async def test_a_retried_full_delete_answers_204_again(api):
    await api.admin("POST", BASE, json={"_id": "P", **a_configuration(1)})
    await api.admin("DELETE", f"{BASE}/P/*", headers=key("delete-1"))

    retry = await api.admin("DELETE", f"{BASE}/P/*", headers=key("delete-1"))

    assert retry.status == 204


async def test_idempotency_keys_are_scoped_per_user(api):
    carol = await api.runtime.tokens.create("carol", "admin")
    await api.admin("POST", BASE, json={"_id": "P", **a_configuration(1)}, headers=key("shared"))

    r = await api.call("POST", BASE, token=carol, json={"_id": "Q", **a_configuration(1)}, headers=key("shared"))

    assert r.status == 201
    body = await r.json()
    assert (body["_id"], body["_user"]) == ("Q", "carol")
    assert (await api.user("GET", f"{BASE}/Q")).status == 200


async def test_a_key_reused_for_a_different_request_is_refused_and_changes_nothing(api):
    await api.admin("POST", BASE, json={"_id": "P", **a_configuration(1)}, headers=key("once"))
    before = await api.event_count()

    r = await api.admin("POST", BASE, json={"_id": "Q", **a_configuration(1)}, headers=key("once"))

    await problem(r, 422)
    assert "Idempotency-Key" in (await r.json(content_type=None))["detail"]
    assert await api.event_count() == before
    assert (await api.user("GET", f"{BASE}/Q")).status == 404


async def test_a_key_reused_on_another_route_is_refused(api):
    await api.admin("POST", BASE, json={"_id": "P", **a_configuration(1)})
    await api.admin("DELETE", f"{BASE}/P/*", headers=key("once"))

    r = await api.admin("POST", BASE, json={"_id": "P", **a_configuration(1)}, headers=key("once"))

    assert r.status == 422
    assert (await api.user("GET", f"{BASE}/P")).status == 404


async def test_an_overlong_idempotency_key_is_a_400_problem(api):
    r = await api.admin("POST", BASE, json={"_id": "P", **a_configuration(1)}, headers=key("k" * 201))

    await problem(r, 400)
    assert await api.event_count() == 0
