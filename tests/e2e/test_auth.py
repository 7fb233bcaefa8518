"""Authentication and roles: bearer or bare tokens, admin writes, public health and docs."""

from __future__ import annotations


import pytest

from tests.factories import a_configuration
from tests.problems import problem

BASE = "/api/process/v1"


async def test_a_request_without_a_token_is_a_401_problem_with_a_challenge(api):
    r = await api.call("GET", BASE, token=None)

    await problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_write_without_a_token_is_refused_and_stores_nothing(api):
    r = await api.call("POST", BASE, token=None, json={"_id": "P", **a_configuration(1)})

    await problem(r, 401)
    assert await api.event_count() == 0


async def test_an_unknown_token_is_a_401_problem(api):
    r = await api.call("GET", BASE, token="prc_not-a-real-token")

    await problem(r, 401)
    assert "WWW-Authenticate" in r.headers


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Basic YWxpY2U6c2VjcmV0", "Bearer two words"])
async def test_a_malformed_authorization_header_is_a_401_problem(api, header):
    r = await api.client.get(BASE, headers={"Authorization": header})

    await problem(r, 401)


async def test_a_bare_token_as_concord_sends_it_is_accepted(api):
    r = await api.client.get(BASE, headers={"Authorization": api.user_token})

    assert r.status == 200


async def test_the_bearer_scheme_is_case_insensitive(api):
    r = await api.client.get(BASE, headers={"Authorization": f"bearer {api.user_token}"})

    assert r.status == 200


async def test_a_user_can_read(api):
    await api.admin("POST", BASE, json={"_id": "P", **a_configuration(1)})

    assert (await api.user("GET", BASE)).status == 200
    assert (await api.user("GET", f"{BASE}/P")).status == 200
    assert (await api.user("GET", f"{BASE}/P/*")).status == 200


async def test_a_user_cannot_post_a_configuration(api):
    r = await api.user("POST", BASE, json={"_id": "P", **a_configuration(1)})

    await problem(r, 403)
    assert await api.event_count() == 0


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", f"{BASE}/P", {"_id": "Q"}),
        ("PUT", f"{BASE}/P/1/PROD", None),
        ("DELETE", f"{BASE}/P", None),
        ("DELETE", f"{BASE}/P/1", None),
        ("DELETE", f"{BASE}/P/*", None),
    ],
)
async def test_a_user_cannot_change_a_configuration(api, method, path, body):
    await api.admin("POST", BASE, json={"_id": "P", **a_configuration(1)})
    before = await api.event_count()

    await problem(await api.user(method, path, json=body), 403)

    assert await api.event_count() == before


@pytest.mark.parametrize("path", ["/healthz", "/api/process", "/api/openapi.json", "/api/docs"])
async def test_health_build_info_and_docs_need_no_token(api, path):
    r = await api.call("GET", path, token=None)

    assert r.status == 200


async def test_tokens_are_stored_only_as_hashes(api):
    rows = await api.runtime.pool.fetch("SELECT * FROM procession_tokens")

    stored = " ".join(str(value) for row in rows for value in row.values())
    assert len(rows) == 2
    assert api.admin_token not in stored and api.user_token not in stored
    assert api.admin_token.removeprefix("prc_") not in stored


async def test_a_token_with_bytes_that_are_not_ascii_is_a_401_problem(api):
    answer = await api.raw(
        b"GET " + BASE.encode() + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\nConnection: close\r\n\r\n"
    )

    assert answer.startswith(b"HTTP/1.1 401 ")
    assert b"application/problem+json" in answer
