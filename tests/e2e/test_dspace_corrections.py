"""DSpace as its document says (issue 9, section 3): the closed status set, the list's `sort`
block, parameters from every text field named as sent, user UUIDs, file links for any name,
and `_links.script` only for a registered script."""

from __future__ import annotations

from urllib.parse import quote

import aiohttp

from services.common.user_ids import user_uuid
from tests.e2e.test_dspace import PROCESSES, SCRIPTS, form, settled, start
from tests.problems import problem

MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D">
  <bpmn:process id="P" isExecutable="true">
    <bpmn:startEvent id="s"/><bpmn:task id="Approve"/><bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="Approve"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Approve" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>"""


async def _ids(api, **params: str) -> set[str]:
    r = await api.admin("GET", PROCESSES, params=params)
    assert r.status == 200, await r.text()
    return {p["processId"] for p in (await r.json())["_embedded"]["processes"]}


async def test_status_is_the_documents_closed_set_and_completed_is_a_filter_synonym(api):
    done = await start(api, "echo-params", [{"name": "-m", "value": "hi"}])
    slow = await start(api, "slow", [{"name": "-s", "value": "60"}])
    await settled(api, done["processId"])
    # Stopped by a user (through Concord's kill, which leaves the record).
    assert (await api.user("DELETE", f"/api/v1/process/{slow['processId']}")).status == 204

    ended, stopped = await settled(api, done["processId"]), await settled(api, slow["processId"])

    assert (ended["status"], stopped["status"]) == ("STOPPED", "STOPPED")
    assert (ended["processStatus"], stopped["processStatus"]) == ("COMPLETED", "STOPPED")
    both = {done["processId"], slow["processId"]}
    assert await _ids(api, status="STOPPED") == both
    assert await _ids(api, status="COMPLETED") == both
    assert await _ids(api, status="completed") == both
    await problem(await api.admin("GET", PROCESSES, params={"status": "FINISHED"}), 400)


async def test_lists_carry_the_documents_sort_block(api):
    await start(api, "echo-params", [{"name": "-m", "value": "hi"}])

    default = await (await api.user("GET", PROCESSES)).json()
    by_script = await (await api.user("GET", PROCESSES, params={"sort": "script,asc"})).json()
    own = await (await api.user("GET", f"{PROCESSES}/search/own", params={"sort": "startTime"})).json()

    assert default["sort"] == {"by": "creationTime", "order": "desc"}
    assert by_script["sort"] == {"by": "script", "order": "asc"}
    assert own["sort"] == {"by": "startTime", "order": "asc"}


async def test_every_text_field_is_a_parameter_named_as_it_was_sent(api):
    data = form([{"name": "--count", "value": "2"}])
    data.add_field("m", "short name")

    r = await api.user("POST", f"{SCRIPTS}/echo-params/processes", data=data)

    assert r.status == 202, await r.text()
    body = await r.json()
    assert sorted(map(tuple, (p.values() for p in body["parameters"]))) == [("--count", "2"), ("m", "short name")]
    done = await settled(api, body["processId"])
    assert {p["name"] for p in done["parameters"]} == {"m", "--count"}
    for name in ("-m", "--message"):
        only = aiohttp.FormData(default_to_multipart=True)
        only.add_field(name, "hello")
        r = await api.user("POST", f"{SCRIPTS}/echo-params/processes", data=only)
        assert r.status == 202, await r.text()
        assert (await r.json())["parameters"] == [{"name": name, "value": "hello"}]


async def test_one_parameter_by_two_of_its_names_is_422(api):
    data = form([{"name": "-m", "value": "one"}])
    data.add_field("--message", "two")

    body = await problem(await api.user("POST", f"{SCRIPTS}/echo-params/processes", data=data), 422)

    assert any("more than once" in e for e in body["errors"])


async def test_user_id_is_a_stable_uuid_and_filters_by_it_or_by_the_name(api):
    mine = await start(api, "echo-params", [{"name": "-m", "value": "bob's"}])
    theirs = await start(api, "echo-params", [{"name": "-m", "value": "alice's"}], who="admin")

    assert mine["userId"] == user_uuid("bob") != theirs["userId"]
    assert await _ids(api, userId=user_uuid("bob")) == {mine["processId"]}
    assert await _ids(api, userId="bob") == {mine["processId"]}
    assert await _ids(api, userId=user_uuid("nobody")) == set()
    r = await api.admin("GET", f"{PROCESSES}/search/byProperty", params={"userId": user_uuid("bob")})
    assert {p["processId"] for p in (await r.json())["_embedded"]["processes"]} == {mine["processId"]}


async def test_file_links_work_for_every_name(api):
    odd, nested = "r&d #1.csv", "docs/notes.txt"
    data = aiohttp.FormData(default_to_multipart=True, quote_fields=False)  # names as a browser sends them
    data.add_field("properties", f'[{{"name": "-f", "value": "{odd}"}}]')
    for name, content in ((odd, b"a,1\n"), (nested, b"notes")):
        data.add_field("file", content, filename=name, content_type="text/csv")
    r = await api.user("POST", f"{SCRIPTS}/csv-import/processes", data=data)
    assert r.status == 202, await r.text()
    pid = (await r.json())["processId"]
    await settled(api, pid)

    listed = await (await api.user("GET", f"{PROCESSES}/{pid}/files")).json()

    assert listed["_links"][odd]["href"] == f"{PROCESSES}/{pid}/files/{quote(odd, safe='')}"
    assert listed["_links"][nested]["href"] == f"{PROCESSES}/{pid}/files/docs%2Fnotes.txt"
    for name in (odd, nested):
        got = await api.user("GET", listed["_links"][name]["href"])
        assert got.status == 200, await got.text()
    raw = await api.user("GET", f"{PROCESSES}/{pid}/files/{nested}")
    assert (raw.status, await raw.read()) == (200, b"notes")


async def test_the_script_link_is_there_only_for_a_registered_script(api):
    assert (await api.admin("POST", "/api/process/v1", json={"_id": "flowonly", "workflow": MODEL})).status == 201
    flow = await api.user("POST", "/api/v1/process/flowonly:default:", json={})
    scripted = await start(api, "echo-params", [{"name": "-m", "value": "hi"}])

    by_flow = await (await api.user("GET", f"{PROCESSES}/{(await flow.json())['instanceId']}")).json()
    by_script = await (await api.user("GET", f"{PROCESSES}/{scripted['processId']}")).json()

    assert "script" not in by_flow["_links"] and by_flow["scriptName"] == "flowonly"
    assert by_script["_links"]["script"] == {"href": f"{SCRIPTS}/echo-params"}
