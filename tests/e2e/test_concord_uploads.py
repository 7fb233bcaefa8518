"""Concord uploads that run: a ZIP or a form with a script or a model, arguments, files, a start time."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from services.scheduling.scheduler import Scheduler
from tests.concord_face import BASE, MODEL, script_zip, status_of, upload
from tests.concord_face import settings  # noqa: F401 (the fixture: the face's small caps)
from tests.factories import ALICE
from tests.problems import problem
from tests.zips import a_zip


async def test_a_zip_whose_flow_names_a_script_runs_it_and_sync_answers_finished(api):
    started = await upload(api, script_zip("echo-params", {"message": "hello from a zip"}), sync="true")

    assert started["status"] == "FINISHED"
    log = await api.user("GET", f"{BASE}/{started['instanceId']}/log")
    assert log.status == 200 and log.content_type == "text/plain"
    assert "hello from a zip" in await log.text()


async def test_a_zip_with_a_bpmn_model_runs_ad_hoc_as_one_hidden_definition(api):
    first = await upload(api, a_zip({"flow.bpmn": MODEL}), sync="true", entryPoint="main")
    second = await upload(api, a_zip({"flow.bpmn": MODEL}), entryPoint="quick")

    one, two = await status_of(api, first["instanceId"]), await status_of(api, second["instanceId"])
    assert (first["status"], two["status"]) == ("SUSPENDED", "FINISHED")
    assert one["projectName"].startswith("adhoc.") and one["projectName"] == two["projectName"]


async def test_a_form_with_archive_text_parameters_and_files_starts_with_them(api):
    form = aiohttp.FormData()
    form.add_field("archive", io.BytesIO(a_zip({"flow.json": '{"script": "echo-params"}'})), filename="payload.zip",
                   content_type="application/octet-stream")
    form.add_field("arguments.message", "from a form")
    form.add_field("data.txt", io.BytesIO(b"attached data"), filename="data.txt", content_type="application/octet-stream")
    form.add_field("sync", "true")

    r = await api.user("POST", BASE, data=form)

    assert r.status == 200, await r.text()
    instance_id = (await r.json())["instanceId"]
    assert "from a form" in await (await api.user("GET", f"{BASE}/{instance_id}/log")).text()
    assert "data.txt" in await (await api.user("GET", f"{BASE}/{instance_id}/attachment")).json()
    got = await api.user("GET", f"{BASE}/{instance_id}/attachment/data.txt")
    posted = await api.user("POST", f"{BASE}/{instance_id}/attachment/data.txt", headers={"Range": "bytes=0-7"})
    assert (got.status, await got.read()) == (200, b"attached data")
    assert (posted.status, await posted.read()) == (206, b"attached")


async def test_a_form_naming_a_flow_of_a_model_with_two_start_events_starts_there_with_its_files(api):
    form = aiohttp.FormData()
    form.add_field("archive", io.BytesIO(a_zip({"flow.bpmn": MODEL, "docs/notes.txt": "from the archive"})),
                   filename="payload.zip", content_type="application/octet-stream")
    form.add_field("entryPoint", "main")
    form.add_field("data.txt", io.BytesIO(b"attached data"), filename="data.txt", content_type="application/octet-stream")

    r = await api.user("POST", BASE, data=form)

    assert r.status == 200, await r.text()
    instance_id = (await r.json())["instanceId"]
    instance = await api.runtime.instances.get(instance_id)
    assert (instance.start_event, instance.current_task) == ("main", "Approve")
    assert await (await api.user("GET", f"{BASE}/{instance_id}/attachment")).json() == ["data.txt", "docs/notes.txt"]


async def test_a_form_naming_a_flow_with_a_start_time_is_scheduled_and_then_starts_at_that_flow(api):
    later = datetime.now(UTC) + timedelta(hours=1)
    form = aiohttp.FormData()
    form.add_field("archive", io.BytesIO(a_zip({"flow.bpmn": MODEL})), filename="payload.zip",
                   content_type="application/octet-stream")
    form.add_field("entryPoint", "quick")
    form.add_field("startAt", later.isoformat())

    r = await api.user("POST", BASE, data=form)

    assert r.status == 200, await r.text()
    instance_id = (await r.json())["instanceId"]
    assert (await status_of(api, instance_id))["status"] == "ENQUEUED"
    assert await Scheduler(api.runtime).start_due(later + timedelta(seconds=1)) == 1
    instance = await api.runtime.instances.get(instance_id)
    assert (instance.start_event, (await status_of(api, instance_id))["status"]) == ("quick", "FINISHED")


async def test_a_form_naming_no_start_event_of_the_model_is_refused_before_it_is_scheduled(api):
    form = aiohttp.FormData()
    form.add_field("archive", io.BytesIO(a_zip({"flow.bpmn": MODEL})), filename="payload.zip",
                   content_type="application/octet-stream")
    form.add_field("entryPoint", "nosuch")
    form.add_field("startAt", (datetime.now(UTC) + timedelta(hours=1)).isoformat())

    await problem(await api.user("POST", BASE, data=form), 409)
    assert await api.runtime.instance_views.by_target(ALICE, None, limit=10, offset=0) == []


async def test_invalid_script_arguments_in_an_archive_are_422_and_start_nothing(api):
    r = await api.user("POST", BASE, data=io.BytesIO(script_zip("echo-params", {"nonsense": 1})),
                       headers={"Content-Type": "application/zip"})

    await problem(r, 422)


async def test_a_zip_started_through_concord_is_visible_through_dspace(api):
    document = await (await api.call("GET", "/api/openapi.json", token=None)).json()
    if "/api/system/processes/{id}" not in document["paths"]:
        pytest.skip("the DSpace face is not served yet")
    instance_id = (await upload(api, script_zip("echo-params", {"message": "seen"}), sync="true"))["instanceId"]

    r = await api.user("GET", f"/api/system/processes/{instance_id}")

    assert r.status == 200, await r.text()
