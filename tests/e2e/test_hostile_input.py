"""Hostile input: unsafe XML, oversized and deeply nested documents, characters a database
cannot hold, numbers beyond every range. Each gets a 4xx problem, never a 500, and
changes nothing stored; a valid BPMN model is still accepted.
"""

from __future__ import annotations

import io

import orjson
import pytest

from tests.factories import a_configuration
from tests.fixtures import bpmn_text
from tests.problems import problem

BASE = "/api/process/v1"
JSON = {"Content-Type": "application/json"}
WORKFLOW_CAP = 64 * 1024
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
VALID_BPMN = bpmn_text("linear-data-then-confirmation.bpmn")


@pytest.fixture
def settings(settings):
    """A workflow cap well under the body cap, so the workflow cap itself can be reached."""
    return settings.model_copy(update={"max_workflow_bytes": WORKFLOW_CAP})


def bpmn(process: str, prolog: str = "") -> str:
    return (
        f'<?xml version="1.0"?>{prolog}<bpmn:definitions xmlns:bpmn="{BPMN_NS}">'
        f'<bpmn:process id="P" isExecutable="true">{process}</bpmn:process></bpmn:definitions>'
    )


def billion_laughs() -> str:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)
    ]
    return bpmn('<bpmn:startEvent id="S" name="&lol9;"/>', f"<!DOCTYPE lolz [{''.join(entities)}]>")


XXE = bpmn(
    '<bpmn:startEvent id="S"><bpmn:documentation>&xxe;</bpmn:documentation></bpmn:startEvent>',
    '<!DOCTYPE definitions [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
)
PARAMETER_ENTITY = bpmn(
    '<bpmn:startEvent id="S"/>',
    '<!DOCTYPE definitions [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>',
)
PLAIN_DOCTYPE = bpmn('<bpmn:startEvent id="S"/>', "<!DOCTYPE definitions>")
EVENT_BASED = bpmn(
    '<bpmn:startEvent id="S"/><bpmn:eventBasedGateway id="Fork"/><bpmn:endEvent id="E"/>'
    '<bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Fork"/>'
    '<bpmn:sequenceFlow id="F2" sourceRef="Fork" targetRef="E"/>'
)
OVERSIZED = VALID_BPMN.replace("</bpmn:definitions>", f"<!-- {'x' * WORKFLOW_CAP} --></bpmn:definitions>")


async def stored(api) -> tuple[int, int]:
    """What a refused command must not change: the event log and the read model."""
    pool = api.runtime.pool
    return (
        await pool.fetchval("SELECT count(*) FROM procession_events"),
        await pool.fetchval("SELECT count(*) FROM definition_view"),
    )


@pytest.mark.parametrize(
    ("workflow", "named"),
    [
        (billion_laughs(), "DOCTYPE"),
        (XXE, "DOCTYPE"),
        (PARAMETER_ENTITY, "DOCTYPE"),
        (PLAIN_DOCTYPE, "DOCTYPE"),
        (EVENT_BASED, "eventBasedGateway"),
        (OVERSIZED, "limit"),
        ("<bpmn:definitions", "workflow"),
        ("<html><body/></html>", "BPMN"),
    ],
    ids=["billion-laughs", "xxe", "parameter-entity", "doctype", "unsupported-element", "over-cap", "malformed", "not-bpmn"],
)
async def test_an_unsafe_or_unsupported_bpmn_workflow_is_refused_naming_the_problem(api, workflow, named):
    before = await stored(api)

    r = await api.admin("POST", BASE, json={"name": "P", "workflow": workflow})

    body = await problem(r, 422, 413, 400)
    assert any(named in error for error in body["errors"]), body
    assert all(error.startswith("workflow") for error in body["errors"])
    assert await stored(api) == before


async def test_an_external_entity_never_leaks_the_file_it_names(api):
    r = await api.admin("POST", BASE, json={"name": "P", "workflow": XXE})

    assert r.status == 422
    assert "root:" not in await r.text()


async def test_a_valid_bpmn_model_is_accepted(api):
    r = await api.admin("POST", BASE, json={"name": "Linear", "workflow": VALID_BPMN})

    assert r.status == 201, await r.text()
    stored_model = (await (await api.user("GET", f"{BASE}/Linear")).json())["workflow"]
    assert stored_model == VALID_BPMN


async def test_a_json_document_nested_100000_deep_is_a_400_problem(api):
    r = await api.admin("POST", BASE, data=b"[" * 100_000 + b"]" * 100_000, headers=JSON)

    await problem(r, 400)
    assert await stored(api) == (0, 0)


@pytest.mark.parametrize("field", ["input", "properties", "settings"])
async def test_a_configuration_value_nested_beyond_the_limit_is_a_422_problem_naming_it(api, field):
    deep: object = "leaf"
    for _ in range(300):
        deep = [deep]

    r = await api.admin("POST", BASE, json={"name": "P", "script": "s", field: {"x": deep}})

    body = await problem(r, 422)
    assert body["errors"][0].startswith(f"{field}.x")
    assert await stored(api) == (0, 0)


@pytest.mark.parametrize(
    "configuration",
    [
        {"name": "P", "script": "s", "description": "before\u0000after"},
        {"name": "P", "script": "s", "input": {"key\u0000": 1}},
        {"name": "P", "script": "s", "tags": ["a", "b\u0000"]},
        {"name": "P\u0000", "script": "s"},
    ],
    ids=["value", "field-name", "list-item", "key"],
)
async def test_a_nul_character_is_a_422_problem_and_stores_nothing(api, configuration):
    r = await api.admin("POST", BASE, json=configuration)

    await problem(r, 422)
    assert await stored(api) == (0, 0)


async def test_after_a_refused_nul_the_service_still_records_and_reads(api):
    await api.admin("POST", BASE, json={"name": "P", "script": "s", "description": "\u0000"})

    await api.admin("POST", BASE, json={"_id": "Q", **a_configuration(1)})

    assert (await api.user("GET", f"{BASE}/Q")).status == 200


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        ("GET", f"{BASE}/%00", (404,)),
        ("GET", f"{BASE}/%00/*", (404,)),
        ("GET", f"{BASE}/Q/%00", (404,)),
        ("GET", f"{BASE}?name=%00", (400,)),
        ("DELETE", f"{BASE}/Q/%00", (404,)),
        ("PUT", f"{BASE}/Q/1/%00", (422,)),
    ],
)
async def test_a_nul_in_a_path_or_query_is_a_4xx_problem(api, method, path, statuses):
    await api.admin("POST", BASE, json={"_id": "Q", **a_configuration(1)})
    before = await stored(api)

    await problem(await api.admin(method, path), *statuses)

    assert await stored(api) == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"{BASE}/Q/%C2%B2"),
        ("PUT", f"{BASE}/Q/%C2%B2/PROD"),
        ("DELETE", f"{BASE}/Q/%C2%B2"),
        ("GET", f"{BASE}/Q/{'9' * 5000}"),
        ("PUT", f"{BASE}/Q/{'9' * 5000}/PROD"),
        ("DELETE", f"{BASE}/Q/{'9' * 5000}"),
    ],
    ids=["get-superscript", "tag-superscript", "delete-superscript", "get-long", "tag-long", "delete-long"],
)
async def test_a_selector_that_only_looks_like_a_number_is_not_found(api, method, path):
    await api.admin("POST", BASE, json={"_id": "Q", **a_configuration(1)})
    before = await stored(api)

    await problem(await api.admin(method, path), 404)

    assert await stored(api) == before


async def test_a_huge_description_under_the_body_cap_is_kept_intact(api):
    description = "é" * 400_000

    body = io.BytesIO(orjson.dumps({"name": "P", "script": "s", "description": description}))

    r = await api.admin("POST", BASE, data=body, headers=JSON)

    assert r.status == 201
    assert (await (await api.user("GET", f"{BASE}/P")).json())["description"] == description


async def test_a_huge_string_over_the_body_cap_is_a_413_problem(api):
    body = io.BytesIO(b'{"name": "P", "script": "s", "description": "' + b"x" * 1_100_000 + b'"}')

    await problem(await api.admin("POST", BASE, data=body, headers=JSON), 413)
    assert await stored(api) == (0, 0)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", BASE, {"_id": "K" * 10_000, "script": "s"}),
        ("PUT", f"{BASE}/Q", {"_id": "K" * 10_000}),
        ("PUT", f"{BASE}/Q/1/{'T' * 5000}", None),
    ],
    ids=["key", "rename", "tag"],
)
async def test_an_overlong_key_or_tag_is_a_422_problem(api, method, path, body):
    await api.admin("POST", BASE, json={"_id": "Q", **a_configuration(1)})
    before = await stored(api)

    await problem(await api.admin(method, path, json=body), 422)

    assert await stored(api) == before


@pytest.mark.parametrize(
    "raw",
    [b'{"name": "P", "script": "\xff\xfe"}', b'{"name": "P", "script": "\\ud800"}', b'{"name": "P", "script": "s", "input": {"x": 1e400}}'],
    ids=["invalid-utf8", "lone-surrogate", "infinite-number"],
)
async def test_json_that_cannot_be_read_faithfully_is_a_400_problem(api, raw):
    await problem(await api.admin("POST", BASE, data=raw, headers=JSON), 400)
    assert await stored(api) == (0, 0)


async def test_an_idempotency_key_with_bytes_that_are_not_ascii_is_a_400_problem(api):
    body = b'{"name": "P", "script": "s"}'
    request = (
        b"POST " + BASE.encode() + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + api.admin_token.encode()
        + b"\r\nIdempotency-Key: \xff\xfe\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
    )

    answer = await api.raw(request)

    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"Idempotency-Key" in answer
    assert await stored(api) == (0, 0)


async def test_a_body_with_thousands_of_invalid_items_lists_only_the_first_problems(api):
    body = io.BytesIO(orjson.dumps({"name": "P", "script": "s", "tags": [1] * 100_000}))

    r = await api.admin("POST", BASE, data=body, headers=JSON)

    problems = (await problem(r, 422))["errors"]
    assert len(problems) <= 51
    assert problems[0].startswith("tags.0") and problems[-1].endswith("more")
    assert await stored(api) == (0, 0)
