"""The Altinn face over HTTP: task types, completeProcess through automated tasks, parallel branches.

With several tokens active, Altinn's `currentTask` is the first active user task in document
order; `GET next` lists the elements reachable from each active task, by task; `PUT next?id=<task>`
leaves that task.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.settings import Settings
from tests.fixtures import bpmn_text
from tests.problems import problem

PARTY = "50001"
QUICK = """
name = "quick"
command = ["{python}", "-u", "-c", "print('done')"]
time_limit_seconds = 60
"""


def task(element_id: str, task_type: str, tag: str = "task", extra: str = "") -> str:
    return (f'<bpmn:{tag} id="{element_id}"><bpmn:extensionElements><altinn:taskExtension>'
            f"<altinn:taskType>{task_type}</altinn:taskType>{extra}</altinn:taskExtension></bpmn:extensionElements></bpmn:{tag}>")


def model(*elements: str) -> str:
    """A straight line: start, the elements in order, end."""
    ids = ["Start", *(e.split('id="', 1)[1].split('"', 1)[0] for e in elements), "End"]
    flows = "".join(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>' for i, (a, b) in enumerate(zip(ids, ids[1:])))
    return ('<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:altinn="http://altinn.no/process" id="D">'
            '<bpmn:process id="P" isExecutable="true"><bpmn:startEvent id="Start"/>'
            f'{"".join(elements)}<bpmn:endEvent id="End"/>{flows}</bpmn:process></bpmn:definitions>')


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "quick.toml").write_text(QUICK)
    return settings.model_copy(update={"scripts_dir": scripts})


async def started(api, key: str, workflow: str) -> str:
    r = await api.admin("POST", "/api/process/v1", json={"_id": key, "workflow": workflow})
    assert r.status == 201, await r.text()
    r = await api.user("POST", f"/apps/{key}/api/v1/instances", params={"instanceOwnerPartyId": PARTY})
    path = f"/apps/{key}/api/v1/instances/{PARTY}/{(await r.json())['id'].split('/')[1]}"
    assert (await api.user("POST", f"{path}/process/start")).status == 200
    return path


async def test_complete_process_runs_automated_tasks_on_the_way_to_the_end(api):
    workflow = model(task("Fill", "data"), task("Receipt", "pdf", "serviceTask", "<altinn:script>quick</altinn:script>"),
                     task("Confirm", "confirmation"))
    path = await started(api, "auto", workflow)

    r = await api.user("PUT", f"{path}/process/completeProcess")

    assert r.status == 200, await r.text()
    assert (await r.json())["endEvent"] == "End"
    history = (await (await api.user("GET", f"{path}/process/history")).json())["processHistory"]
    assert [h["elementId"] for h in history] == ["Start", "Fill", "Receipt", "Confirm", "End"]


async def test_complete_process_stops_at_a_feedback_task_which_waits_for_data(api):
    path = await started(api, "fb", model(task("Fill", "data"), task("Feedback", "feedback")))

    r = await api.user("PUT", f"{path}/process/completeProcess")

    assert (await problem(r, 409))["errors"]
    state = await (await api.user("GET", f"{path}/process")).json()
    assert state["currentTask"]["elementId"] == "Feedback" and state["currentTask"]["validated"]["canCompleteTask"] is False


async def test_a_feedback_task_moves_on_once_data_is_delivered_to_it_or_an_admin_moves_it(api):
    waiting = await started(api, "fb2", model(task("Feedback", "feedback")))
    delivered = await started(api, "fb3", model(task("Feedback", "feedback")))

    await problem(await api.user("PUT", f"{waiting}/process/next"), 409)
    by_admin = await api.admin("PUT", f"{waiting}/process/next")
    guid = delivered.rsplit("/", 1)[1]
    await api.user("PATCH", f"/api/v1/process/fb3/{guid}", json={"documents": ["feedback-1"]})
    by_user = await api.user("PUT", f"{delivered}/process/next")

    assert by_admin.status == 200 and (await by_admin.json())["endEvent"] == "End"
    assert by_user.status == 200, await by_user.text()
    assert (await by_user.json())["endEvent"] == "End"


async def test_a_confirmation_task_moves_on_with_the_confirm_action(api):
    path = await started(api, "conf", model(task("Confirm", "confirmation")))

    r = await api.user("PUT", f"{path}/process/next", json={"action": "confirm"})

    assert r.status == 200 and (await r.json())["endEvent"] == "End"
    events = await (await api.user("GET", f"{path}/events")).json()
    assert [e["eventType"] for e in events][-2:] == ["process:EndTask", "process:EndEvent"]


async def test_next_from_a_gateway_with_a_default_flow_takes_it_and_an_id_still_chooses(api):
    from tests.fixtures import bpmn_text

    default = await started(api, "gwd", bpmn_text("gateway-default-flow.bpmn"))
    chosen = await started(api, "gwd2", bpmn_text("gateway-default-flow.bpmn"))

    r1 = await api.user("PUT", f"{default}/process/next")
    r2 = await api.user("PUT", f"{chosen}/process/next", params={"id": "Decided"})

    assert (await r1.json())["currentTask"]["elementId"] == "Assess"
    assert (await r2.json())["endEvent"] == "Decided"


async def state(api, path: str) -> dict:
    return await (await api.user("GET", f"{path}/process")).json()


async def test_a_parallel_fork_of_two_user_tasks_runs_to_its_end_through_the_altinn_face(api):
    path = await started(api, "parallel-order", bpmn_text("parallel-fork-join.bpmn"))

    forked = await state(api, path)
    reachable = await (await api.user("GET", f"{path}/process/next")).json()
    second = await api.user("PUT", f"{path}/process/next", params={"id": "ReserveStock"})
    after_second = await state(api, path)
    first = await api.user("PUT", f"{path}/process/next")
    joined = await state(api, path)
    shipped = await api.user("PUT", f"{path}/process/next")

    assert forked["currentTask"]["elementId"] == "ChargeCard"
    assert reachable == {"ChargeCard": ["Join"], "ReserveStock": ["Join"]}
    assert second.status == 200 and after_second["currentTask"]["elementId"] == "ChargeCard"
    assert first.status == 200 and joined["currentTask"]["elementId"] == "Ship"
    assert shipped.status == 200, await shipped.text()
    assert (await shipped.json())["endEvent"] == "Shipped"
    history = (await (await api.user("GET", f"{path}/process/history")).json())["processHistory"]
    assert [h["elementId"] for h in history] == ["Ordered", "ChargeCard", "ReserveStock", "Ship", "Shipped"]
    assert all(h.get("ended") or h["eventType"] != "process_StartTask" for h in history)
