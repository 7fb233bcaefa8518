"""Conventions every face shares: problem JSON for each error status, and the OpenAPI document."""

from __future__ import annotations

import io

import pytest

from services.faces.opendatadsl import routes as opendatadsl
from tests.factories import a_configuration
from tests.problems import problem

BASE = "/api/process/v1"
JSON = {"Content-Type": "application/json"}


async def test_malformed_json_is_a_400_problem_and_stores_nothing(api):
    r = await api.admin("POST", BASE, data=b'{"name": "P", "script": ', headers=JSON)

    await problem(r, 400)
    assert await api.event_count() == 0


async def test_an_empty_body_is_a_400_problem(api):
    await problem(await api.admin("POST", BASE, data=b"", headers=JSON), 400)


async def test_a_json_array_body_is_a_400_problem_and_stores_nothing(api):
    r = await api.admin("POST", BASE, json=[{"name": "P", "script": "s"}])

    body = await problem(r, 400)
    assert "object" in body["detail"]
    assert await api.event_count() == 0


async def test_an_unknown_route_is_a_404_problem(api):
    await problem(await api.admin("GET", "/api/nothing/here"), 404)


async def test_an_unknown_process_is_a_404_problem_naming_it(api):
    body = await problem(await api.admin("GET", f"{BASE}/MISSING"), 404)

    assert "MISSING" in body["detail"]


async def test_a_wrong_method_is_a_405_problem_with_allow(api):
    r = await api.admin("PATCH", BASE, json={})

    await problem(r, 405)
    assert {"GET", "POST"} <= {m.strip() for m in r.headers["Allow"].split(",")}


async def test_a_body_over_the_cap_is_a_413_problem_and_stores_nothing(api):
    huge = b'{"name": "P", "script": "s", "description": "' + b"x" * (2 * 1024 * 1024) + b'"}'

    r = await api.admin("POST", BASE, data=io.BytesIO(huge), headers=JSON)

    await problem(r, 413)
    assert await api.event_count() == 0


async def test_a_body_that_is_not_json_is_a_415_problem_and_stores_nothing(api):
    r = await api.admin("POST", BASE, data=b'{"name": "P", "script": "s"}', headers={"Content-Type": "text/plain"})

    body = await problem(r, 415)
    assert "text/plain" in body["detail"]
    assert await api.event_count() == 0


async def test_a_json_suffix_media_type_is_read_as_json(api):
    r = await api.admin("POST", BASE, data=b'{"name": "P", "script": "s"}', headers={"Content-Type": "application/vnd.odsl+json"})

    assert r.status == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "P", "script": "s", "colour": "red"}, "colour"),
        ({"name": "P", "script": "s", "enabled": "yes"}, "enabled"),
        ({"name": "P", "script": "s", "tags": "x"}, "tags"),
        ({"name": "P", "script": "s", "input": [1, 2]}, "input"),
        ({"name": "P", "script": "s", "_type": "VarAction"}, "_type"),
        ({"name": "P", "script": "s", "workflow": "#wf"}, "script/workflow"),
        ({"name": "P"}, "script/workflow"),
        ({"script": "s"}, "_id"),
        ({"name": "not a key!", "script": "s"}, "_id"),
        ({"name": "P", "workflow": "#not a key"}, "workflow"),
        ({"name": "P", "workflow": {"states": {}}}, "workflow"),
    ],
)
async def test_an_invalid_field_is_a_422_problem_naming_it_and_stores_nothing(api, body, field):
    r = await api.admin("POST", BASE, json=body)

    problem_body = await problem(r, 422)
    assert any(error.startswith(f"{field}") for error in problem_body["errors"]), problem_body
    assert await api.event_count() == 0


@pytest.mark.parametrize("cron", ["61 * * * *", "* * *", "12 46 25 * * *", "every day", "0 0 * * 8", "*/0 * * * *", ""])
async def test_a_malformed_cron_is_a_400_problem_naming_the_cron_field(api, cron):
    r = await api.admin("POST", BASE, json={"name": "P", "script": "s", "cron": cron})

    body = await problem(r, 400)
    assert any(error.startswith("cron:") for error in body["errors"]), body
    assert await api.event_count() == 0


@pytest.mark.parametrize("cron", ["0 6 * * 1-5", "0 0 12 ? * MON-FRI", "0 15 10 ? * 6 2030", "*/5 * * * *"])
async def test_a_well_formed_cron_is_accepted(api, cron):
    r = await api.admin("POST", BASE, json={"name": "P", "script": "s", "cron": cron})

    assert r.status == 201


async def test_renaming_onto_an_existing_key_is_a_409_problem_and_changes_nothing(api):
    for key in ("P", "Q"):
        await api.admin("POST", BASE, json={"_id": key, **a_configuration(1)})
    before = await api.event_count()

    r = await api.admin("PUT", f"{BASE}/P", json={"_id": "Q"})

    await problem(r, 409)
    assert await api.event_count() == before
    assert (await api.user("GET", f"{BASE}/P")).status == 200


async def test_renaming_a_process_that_does_not_exist_is_a_404_problem(api):
    await problem(await api.admin("PUT", f"{BASE}/P", json={"_id": "Q"}), 404)


async def test_a_rename_body_with_other_fields_is_a_422_problem(api):
    await api.admin("POST", BASE, json={"_id": "P", **a_configuration(1)})

    await problem(await api.admin("PUT", f"{BASE}/P", json={"_id": "Q", "name": "x"}), 422)


async def test_a_problem_names_the_request_path_as_its_instance(api):
    body = await problem(await api.admin("GET", f"{BASE}/MISSING"), 404)

    assert body["instance"] == f"{BASE}/MISSING"


async def test_the_openapi_document_is_openapi_3_1(api):
    r = await api.call("GET", "/api/openapi.json", token=None)

    assert r.status == 200
    document = await r.json()
    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"] == "procession"


async def test_the_openapi_document_lists_every_opendatadsl_route(api):
    document = await (await api.call("GET", "/api/openapi.json", token=None)).json()

    listed = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    expected = {
        ("GET", "/api/process"),
        ("GET", BASE),
        ("POST", BASE),
        ("GET", f"{BASE}/{{key}}"),
        ("PUT", f"{BASE}/{{key}}"),
        ("DELETE", f"{BASE}/{{key}}"),
        ("GET", f"{BASE}/{{key}}/{{selector}}"),
        ("DELETE", f"{BASE}/{{key}}/{{selector}}"),
        ("PUT", f"{BASE}/{{key}}/{{selector}}/{{tag}}"),
    }
    assert expected <= listed
    assert {(r.method, r.path) for r in opendatadsl.ROUTES} <= listed


async def test_the_openapi_document_describes_problem_responses(api):
    document = await (await api.call("GET", "/api/openapi.json", token=None)).json()

    post = document["paths"][BASE]["post"]
    assert {"201", "400", "401", "403", "412", "413", "415", "422"} <= set(post["responses"])
    assert "application/problem+json" in post["responses"]["422"]["content"]


async def test_the_docs_page_is_html_listing_the_routes(api):
    r = await api.call("GET", "/api/docs", token=None)

    assert r.status == 200
    assert r.content_type == "text/html"
    assert f"{BASE}/{{key}}/{{selector}}/{{tag}}" in await r.text()
