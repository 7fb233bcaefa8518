"""A parallel fork of two user tasks, deployed through the API and run to its end through the Altinn face.

Altinn's `currentTask` is the first active user task in document order; `GET next` lists the
elements reachable from each active task, by task; `PUT next?id=<task>` leaves that task.
"""

from __future__ import annotations

from tests.fixtures import bpmn_text

PARTY = "50001"


async def started(api, key: str, workflow: str) -> str:
    r = await api.admin("POST", "/api/process/v1", json={"_id": key, "workflow": workflow})
    assert r.status == 201, await r.text()
    r = await api.user("POST", f"/apps/{key}/api/v1/instances", params={"instanceOwnerPartyId": PARTY})
    path = f"/apps/{key}/api/v1/instances/{PARTY}/{(await r.json())['id'].split('/')[1]}"
    assert (await api.user("POST", f"{path}/process/start")).status == 200
    return path


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
