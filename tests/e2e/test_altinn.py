"""The Altinn face through HTTP: the model, instances, start, next, completeProcess, history, events."""

from __future__ import annotations

import asyncio

from services.instances.commands import UpdateInstance
from tests.factories import BOB
from tests.fixtures import bpmn_text
from tests.problems import problem

PARTY = "347829"
# A data task that needs a form field, a gateway with a default, a confirmation task, an end.
MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:altinn="http://altinn.no/process" id="D">
  <bpmn:process id="P" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1"/>
    <bpmn:task id="Task_1" name="Fyll ut">
      <bpmn:extensionElements><altinn:taskExtension>
        <altinn:taskType>data</altinn:taskType><altinn:requiredFormData>amount</altinn:requiredFormData>
      </altinn:taskExtension></bpmn:extensionElements>
    </bpmn:task>
    <bpmn:exclusiveGateway id="Gateway_1" default="Flow_small"/>
    <bpmn:task id="Task_2" name="Bekreft">
      <bpmn:extensionElements><altinn:taskExtension><altinn:taskType>confirmation</altinn:taskType></altinn:taskExtension></bpmn:extensionElements>
    </bpmn:task>
    <bpmn:endEvent id="EndEvent_1"/>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Task_1"/>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_1" targetRef="Gateway_1"/>
    <bpmn:sequenceFlow id="Flow_big" sourceRef="Gateway_1" targetRef="Task_2">
      <bpmn:conditionExpression>["greaterThan", ["dataModel", "amount"], 100]</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_small" sourceRef="Gateway_1" targetRef="EndEvent_1"/>
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Task_2" targetRef="EndEvent_1"/>
  </bpmn:process>
</bpmn:definitions>"""


async def an_app(api, key: str = "mva", workflow: str = MODEL) -> str:
    r = await api.admin("POST", "/api/process/v1", json={"_id": key, "workflow": workflow})
    assert r.status == 201, await r.text()
    return key


async def an_instance(api, key: str = "mva") -> str:
    r = await api.user("POST", f"/apps/{key}/api/v1/instances", params={"instanceOwnerPartyId": PARTY})
    assert r.status == 201, await r.text()
    return f"/apps/{key}/api/v1/instances/{PARTY}/{(await r.json())['id'].split('/')[1]}"


async def submit(api, path: str, form: dict) -> None:
    guid = path.rsplit("/", 1)[1]
    await api.runtime.instances.update(BOB, UpdateInstance(guid, form_data=form))


async def test_the_model_is_served_at_both_paths_as_xml(api):
    await an_app(api)
    for path in ("/apps/mva/process", "/apps/mva/api/v1/meta/process"):
        r = await api.user("GET", path)
        assert r.status == 200 and r.content_type == "text/xml"
        assert 'id="Task_1"' in await r.text()


async def test_a_state_machine_definition_is_served_as_the_bpmn_it_compiles_to(api):
    await api.user("POST", "/api/v1/process/example-application", json={"formData": {"a": 1}})

    r = await api.user("GET", "/apps/example-application/process")

    assert r.status == 200 and 'id="DocumentsAttached"' in await r.text()


async def test_a_created_instance_is_not_started(api):
    await an_app(api)
    path = await an_instance(api)

    body = await (await api.user("GET", f"{path}/process")).json()

    assert body["started"] is None and "currentTask" not in body and "ended" not in body
    assert await (await api.user("GET", f"{path}/process/next")).json() == ["StartEvent_1"]


async def test_start_moves_to_the_first_task_and_start_twice_is_409(api):
    await an_app(api)
    path = await an_instance(api)

    r = await api.user("POST", f"{path}/process/start")
    again = await api.user("POST", f"{path}/process/start")

    body = await r.json()
    assert r.status == 200 and body["startEvent"] == "StartEvent_1"
    task = body["currentTask"]
    assert (task["elementId"], task["name"], task["altinnTaskType"], task["flow"]) == ("Task_1", "Fyll ut", "data", 2)
    assert task["validated"]["canCompleteTask"] is False
    assert "already started" in (await problem(again, 409))["detail"]


async def test_an_unknown_start_event_is_409(api):
    await an_app(api)
    path = await an_instance(api)
    await problem(await api.user("POST", f"{path}/process/start", params={"startEvent": "Nope"}), 409)


async def test_next_refuses_while_exit_rules_fail_then_follows_the_gateway(api):
    await an_app(api)
    path = await an_instance(api)
    await api.user("POST", f"{path}/process/start")

    refused = await api.user("PUT", f"{path}/process/next")
    assert any("amount" in e for e in (await problem(refused, 409))["errors"])

    await submit(api, path, {"amount": 500})
    assert await (await api.user("GET", f"{path}/process/next")).json() == ["Task_2"]
    r = await api.user("PUT", f"{path}/process/next")
    assert (await r.json())["currentTask"]["elementId"] == "Task_2"


async def test_next_with_an_id_checks_the_element(api):
    await an_app(api)
    path = await an_instance(api)
    await api.user("POST", f"{path}/process/start")
    await submit(api, path, {"amount": 5})

    await problem(await api.user("PUT", f"{path}/process/next", params={"id": "Nope"}), 400)
    await problem(await api.user("PUT", f"{path}/process/next", params={"id": "Task_1"}), 409)
    await problem(await api.user("PUT", f"{path}/process/next", params={"id": "Task_2"}), 409)
    r = await api.user("PUT", f"{path}/process/next", params={"id": "EndEvent_1"})
    body = await r.json()
    assert body["endEvent"] == "EndEvent_1" and "currentTask" not in body and body["ended"]


async def test_several_reachable_elements_and_none_chosen_is_409_and_a_choice_moves(api):
    await an_app(api, "gw", bpmn_text("gateway-caller-chooses.bpmn"))
    path = await an_instance(api, "gw")
    await api.user("POST", f"{path}/process/start")

    await problem(await api.user("PUT", f"{path}/process/next"), 409)
    r = await api.user("PUT", f"{path}/process/next", params={"id": "Review"})

    assert (await r.json())["currentTask"]["elementId"] == "Review"


async def test_a_body_action_chooses_the_gateway_branch(api):
    await an_app(api, "sign", bpmn_text("double-signing.bpmn"))
    path = await an_instance(api, "sign")
    await api.user("POST", f"{path}/process/start")
    await api.user("PUT", f"{path}/process/next")

    r = await api.user("PUT", f"{path}/process/next", json={"action": "reject"})

    assert (await r.json())["currentTask"]["elementId"] == "Declaration"


async def test_complete_process_stops_at_a_task_that_cannot_be_left_then_finishes(api):
    await an_app(api)
    path = await an_instance(api)
    await api.user("POST", f"{path}/process/start")

    stopped = await api.user("PUT", f"{path}/process/completeProcess")
    assert (await problem(stopped, 409))["errors"]
    assert (await (await api.user("GET", f"{path}/process")).json())["currentTask"]["elementId"] == "Task_1"

    await submit(api, path, {"amount": 500})
    r = await api.user("PUT", f"{path}/process/completeProcess")
    assert r.status == 200 and (await r.json())["endEvent"] == "EndEvent_1"
    await problem(await api.user("PUT", f"{path}/process/completeProcess"), 409)


async def test_history_and_events_name_every_step(api):
    await an_app(api)
    path = await an_instance(api)
    await api.user("POST", f"{path}/process/start")
    await submit(api, path, {"amount": 1})
    await api.user("PUT", f"{path}/process/next")

    history = (await (await api.user("GET", f"{path}/process/history")).json())["processHistory"]
    events = await (await api.user("GET", f"{path}/events")).json()

    assert [(h["eventType"], h["elementId"]) for h in history] == [
        ("process_StartEvent", "StartEvent_1"), ("process_StartTask", "Task_1"), ("process_EndEvent", "EndEvent_1")]
    assert history[1]["ended"] is not None
    assert [e["eventType"] for e in events] == ["process:Start", "process:StartTask", "process:EndTask", "process:EndEvent"]
    assert events[1]["processInfo"]["currentTask"]["elementId"] == "Task_1"
    assert events[0]["instanceId"].startswith(f"{PARTY}/")


async def test_as_of_reads_the_process_as_it_was(api):
    await an_app(api)
    path = await an_instance(api)
    await api.user("POST", f"{path}/process/start")

    before = await (await api.user("GET", f"{path}/process", params={"asOf": "1"})).json()

    assert before["started"] is None


async def test_the_wrong_party_or_app_is_404_and_a_missing_party_is_400(api):
    await an_app(api)
    path = await an_instance(api)
    await problem(await api.user("GET", path.replace(PARTY, "1") + "/process"), 404)
    await problem(await api.user("GET", path.replace("/apps/mva/", "/apps/other/") + "/process"), 404)
    await problem(await api.user("POST", "/apps/mva/api/v1/instances"), 400)
    await problem(await api.user("GET", "/apps/nothing/process"), 404)


async def test_concurrent_next_calls_let_one_win_and_the_other_get_409(api):
    await an_app(api, "gw", bpmn_text("linear-data-then-confirmation.bpmn"))
    path = await an_instance(api, "gw")
    await api.user("POST", f"{path}/process/start")

    # Both name Confirm, so the loser is refused whether it lost the race or came after the winner.
    responses = await asyncio.gather(*(api.user("PUT", f"{path}/process/next?id=Confirm") for _ in range(2)))

    assert sorted(r.status for r in responses) == [200, 409]
    events = await (await api.user("GET", f"{path}/events")).json()
    assert [e["processInfo"].get("currentTask", {}) and e["processInfo"]["currentTask"]["elementId"]
            for e in events if e["eventType"] == "process:StartTask"] == ["FillIn", "Confirm"]


async def test_a_hackney_process_reads_through_altinn_and_an_altinn_instance_through_hackney(api):
    r = await api.user("POST", "/api/v1/process/example-application", json={"formData": {"a": 1}})
    hackney_id = (await r.json())["id"]
    await an_app(api)
    path = await an_instance(api)
    await api.user("POST", f"{path}/process/start")
    guid = path.rsplit("/", 1)[1]

    via_altinn = await (await api.user("GET", f"/apps/example-application/api/v1/instances/0/{hackney_id}/process")).json()
    via_hackney = await (await api.user("GET", f"/api/v1/process/mva/{guid}")).json()

    assert via_altinn["currentTask"]["elementId"] == "ApplicationStarted"
    assert via_hackney["currentState"]["state"] == "Task_1"
