"""Every task-level event names its element and its token, in the instance feed as on Kafka."""

from __future__ import annotations

from services.instances.commands import CompleteTask
from tests.e2e.test_instance_feed import WORKER, a_script_instance
from tests.e2e.test_instance_feed import settings  # noqa: F401 (the fixture: no script worker, the test is the worker)

TASK_LEVEL = {"TaskStarted", "TaskEnded", "AutomatedTaskRequested", "AutomatedTaskCompleted", "Ended"}


async def test_the_feeds_task_level_events_name_the_element_and_the_root_token(api):
    instance_id = await a_script_instance(api, "token-job")
    await api.runtime.instances.complete_task(WORKER, CompleteTask(instance_id, "script", {}))

    events = await (await api.user("GET", f"/api/v1/instances/{instance_id}/events")).json()

    named = [(e["type"], e["data"].get("element_id") or e["data"].get("end_event"), e["data"]["token"])
             for e in events if e["type"] in TASK_LEVEL]
    assert named == [("TaskStarted", "script", "1"), ("AutomatedTaskRequested", "script", "1"),
                     ("AutomatedTaskCompleted", "script", "1"), ("TaskEnded", "script", "1"), ("Ended", "end", "1")]
