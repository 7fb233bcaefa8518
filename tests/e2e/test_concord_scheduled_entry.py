"""A Concord project uploaded with `startAt` and an `entryPoint` is checked against its flows, then runs that flow."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from services.scheduling.scheduler import Scheduler
from tests.concord_face import BASE, status_of
from tests.concord_face import settings  # noqa: F401 (the fixture: the face's small caps)
from tests.factories import ALICE
from tests.problems import problem
from tests.zips import a_zip

PROJECT = """
configuration:
  runtime: concord-v2
flows:
  default:
    - log: "the default flow"
  other:
    - log: "the other flow"
"""


async def a_scheduled_upload(api, entry_point: str, later: datetime):
    return await api.user("POST", BASE, data=io.BytesIO(a_zip({"concord.yml": PROJECT})),
                          params={"entryPoint": entry_point, "startAt": later.isoformat()},
                          headers={"Content-Type": "application/zip"})


async def test_a_project_scheduled_at_a_named_flow_starts_that_flow_when_due(api):
    later = datetime.now(UTC) + timedelta(hours=1)

    r = await a_scheduled_upload(api, "other", later)

    assert r.status == 200, await r.text()
    instance_id = (await r.json())["instanceId"]
    assert (await status_of(api, instance_id))["status"] == "ENQUEUED"
    assert await Scheduler(api.runtime).start_due(later + timedelta(seconds=1)) == 1
    assert (await status_of(api, instance_id))["status"] == "FINISHED"
    log = await (await api.user("GET", f"{BASE}/{instance_id}/log")).text()
    assert "the other flow" in log and "the default flow" not in log


async def test_a_project_scheduled_at_a_flow_it_lacks_is_refused_before_it_is_scheduled(api):
    r = await a_scheduled_upload(api, "nosuch", datetime.now(UTC) + timedelta(hours=1))

    body = await problem(r, 400)
    assert body["errors"] == ["entryPoint: the project has no flow 'nosuch'"]
    assert await api.runtime.instance_views.by_target(ALICE, None, limit=10, offset=0) == []
