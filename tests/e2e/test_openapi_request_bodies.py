"""The OpenAPI document describes the bodies that used to be parsed by hand, part by part."""

from __future__ import annotations

import re

import aiohttp

from tests.e2e.test_altinn import an_app, an_instance
from tests.problems import problem


def _resolve(document: dict, schema: dict) -> dict:
    ref = schema.get("$ref")
    return document["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


async def _document(api) -> dict:
    return await (await api.call("GET", "/api/openapi.json", token=None)).json()


async def test_the_shared_start_describes_hackney_json_concord_forms_and_zips(api):
    document = await _document(api)
    body = document["paths"]["/api/v1/process"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data", "application/zip", "application/octet-stream"} <= set(body)
    assert "processName" in _resolve(document, body["application/json"]["schema"])["required"]
    form = _resolve(document, body["multipart/form-data"]["schema"])
    assert {"archive", "request", "entryPoint", "startAt", "sync", "activeProfiles"} <= set(form["properties"])
    assert form["properties"]["archive"]["format"] == "binary"
    # Other text parts are arguments, other files files: any value, as long as it holds no NUL.
    assert form["additionalProperties"] == {"$ref": "#/components/schemas/StoredValue"}
    assert body["multipart/form-data"]["encoding"]["request"]["contentType"] == "application/json"


async def test_the_dspace_invocation_names_its_parts(api):
    document = await _document(api)
    body = document["paths"]["/api/system/scripts/{name}/processes"]["post"]["requestBody"]["content"]
    form = _resolve(document, body["multipart/form-data"]["schema"])
    assert {"properties", "file", "startTime"} <= set(form["properties"])
    assert form["properties"]["file"]["items"]["format"] == "binary"
    assert form["properties"]["startTime"]["format"] == "date-time"
    assert body["multipart/form-data"]["encoding"]["properties"]["contentType"] == "application/json"


async def test_altinn_next_has_an_optional_action_body(api):
    document = await _document(api)
    put = next(ops["put"] for path, ops in document["paths"].items() if path.endswith("/process/next"))
    assert put["requestBody"]["required"] is False
    schema = _resolve(document, put["requestBody"]["content"]["application/json"]["schema"])
    assert "action" in schema["properties"]


async def test_opendatadsl_list_parameters_are_typed(api):
    document = await _document(api)
    params = {p["name"]: p["schema"] for p in document["paths"]["/api/process/v1"]["get"]["parameters"]}
    assert params["_limit"]["minimum"] == -1 and params["_skip"]["maximum"] == 2**31 - 1
    assert "pattern" in params["_distinct"] and "pattern" in params["_sort"]


async def test_altinn_next_validates_its_body_with_the_model(api):
    await an_app(api)
    path = await an_instance(api)
    await api.user("POST", f"{path}/process/start")
    before = await api.event_count()

    body = await problem(await api.user("PUT", f"{path}/process/next", json={"action": 5}), 422)
    assert "action" in str(body)
    await problem(await api.user("PUT", f"{path}/process/next", json=["submit"]), 400)
    assert await api.event_count() == before


async def test_the_dspace_properties_and_the_concord_request_part_are_parsed_by_their_models(api):
    before = await api.event_count()
    form = aiohttp.FormData()
    form.add_field("properties", '[{"name": 5, "value": "x"}]', content_type="application/json")
    body = await problem(await api.user("POST", "/api/system/scripts/echo-params/processes", data=form), 422)
    assert any(line.startswith("properties.0.name: Input should be a valid string") for line in body["errors"])

    form = aiohttp.FormData()
    form.add_field("request", '{"entryPoint": "x", "arguments": [1, 2]}', content_type="application/json")
    body = await problem(await api.user("POST", "/api/v1/process", data=form), 400)
    assert any(line.startswith("request.arguments: Input should be a valid dictionary") for line in body["errors"])
    form = aiohttp.FormData()
    form.add_field("request", '{"entryPoint": ', content_type="application/json")
    body = await problem(await api.user("POST", "/api/v1/process", data=form), 400)
    assert body["title"] == "Malformed JSON"
    assert await api.event_count() == before


async def test_one_url_is_one_path_item_whose_methods_are_the_allow_the_router_answers(api):
    document = await _document(api)
    shapes = [re.sub(r"\{[^}]*\}", "{}", path) for path in document["paths"]]
    assert len(shapes) == len(set(shapes)), "two path templates that differ only in parameter names"
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))

    shared = document["paths"]["/api/v1/process/{processName}"]
    r = await api.user("OPTIONS", "/api/v1/process/0")
    assert r.status == 405
    assert set(r.headers["Allow"].split(",")) == {method.upper() for method in shared} == {"GET", "DELETE", "POST"}
    concord = shared["get"]["parameters"][0]
    assert concord["name"] == "processName" and "`id`" in concord["description"]


async def test_by_property_says_one_of_its_three_filters_is_needed(api):
    document = await _document(api)
    parameters = document["paths"]["/api/system/processes/search/byProperty"]["get"]["parameters"]
    filters = next(p for p in parameters if p["name"] == "property")
    assert (filters["in"], filters["style"], filters["explode"], filters["required"]) == ("query", "form", True, True)
    needs = [branch["required"] for branch in filters["schema"]["anyOf"]]
    assert needs == [["userId"], ["scriptName"], ["processStatus"]]
    for wire in ({"userId": ""}, {"scriptName": "", "processStatus": ""}):
        await problem(await api.user("GET", "/api/system/processes/search/byProperty", params=wire), 400)
    r = await api.user("GET", "/api/system/processes/search/byProperty", params={"userId": "", "scriptName": "x"})
    assert r.status == 200, await r.text()


async def test_a_configuration_needs_a_key_and_exactly_one_of_script_and_workflow(api):
    document = await _document(api)
    body = document["paths"]["/api/process/v1"]["post"]
    schema = _resolve(document, body["requestBody"]["content"]["application/json"]["schema"])
    assert [branch["required"] for branch in schema["anyOf"]] == [["_id"], ["_key"], ["name"]]
    assert [branch["required"] for branch in schema["oneOf"]] == [["script"], ["workflow"]]
    assert "cron" in body["description"] and {"200", "201"} <= set(body["responses"])
    for refused in ({"_id": "k", "script": "s", "workflow": "#other"}, {"_id": "k"}, {"script": "s"}):
        await problem(await api.admin("POST", "/api/process/v1", json=refused), 422)
