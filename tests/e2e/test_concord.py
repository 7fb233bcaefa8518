"""The Concord face through HTTP: starts (entry point, ZIP, form), status, kill, wait, log, attachments, portal."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import orjson
import pytest

from infra.settings import Settings
from services.scheduling.scheduler import Scheduler
from tests.factories import ADMIN
from tests.zips import HOSTILE, a_zip

BASE = "/api/v1/process"
PORTAL = "/api/service/process_portal"
MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D">
  <bpmn:process id="P" isExecutable="true">
    <bpmn:startEvent id="main"/>
    <bpmn:startEvent id="quick"/>
    <bpmn:task id="Approve" name="Approve"/>
    <bpmn:endEvent id="Done"/>
    <bpmn:sequenceFlow id="f1" sourceRef="main" targetRef="Approve"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Approve" targetRef="Done"/>
    <bpmn:sequenceFlow id="f3" sourceRef="quick" targetRef="Done"/>
  </bpmn:process>
</bpmn:definitions>"""


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Small upload caps, so that the caps themselves can be tested cheaply."""
    return Settings(database_url=database_url, data_dir=tmp_path / "data", log_requests=False,
                    max_upload_bytes=4 * 1_048_576, max_wait_seconds=5.0)


async def a_definition(api, key: str = "review") -> str:
    r = await api.admin("POST", "/api/process/v1", json={"_id": key, "workflow": MODEL, "input": {"amount": 0, "note": ""}})
    assert r.status == 201, await r.text()
    return key


async def start(api, entry_point: str, *, as_user: str = "user", **kw) -> dict:
    r = await getattr(api, as_user)("POST", f"{BASE}/{entry_point}", json=kw.pop("json", {"arguments": {"amount": 5}}), **kw)
    assert r.status == 201, await r.text()
    return await r.json()


async def status_of(api, instance_id: str) -> dict:
    r = await api.user("GET", f"{BASE}/{instance_id}")
    assert r.status == 200, await r.text()
    return await r.json()


async def problem(response, status: int) -> dict:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    return await response.json()


# --- starting by entry point ---------------------------------------------------------------

async def test_an_entry_point_with_repository_and_flow_starts_that_flow_and_answers_both_faces_ids(api):
    await a_definition(api)

    r = await api.user("POST", f"{BASE}/review:default:main", json={"arguments": {"amount": 5}})

    body = await r.json()
    assert r.status == 201
    assert body["ok"] is True and body["instanceId"] == body["id"]
    assert r.headers["Location"] == f"{BASE}/review/{body['id']}"
    entry = await status_of(api, body["id"])
    assert (entry["status"], entry["projectName"], entry["initiator"]) == ("SUSPENDED", "review", "bob")
    assert entry["currentElement"] == "Approve" and entry["meta"]["arguments"] == {"amount": 5}


async def test_project_colon_flow_names_the_start_event(api):
    await a_definition(api)

    started = await start(api, "review:quick")

    assert (await status_of(api, started["instanceId"]))["status"] == "FINISHED"


async def test_a_repository_that_is_a_version_number_picks_that_version(api):
    await a_definition(api)

    started = await start(api, "review:1:main")

    assert (await status_of(api, started["instanceId"]))["repoName"] == "1"


async def test_an_unknown_repository_tag_or_project_is_404(api):
    await a_definition(api)

    await problem(await api.user("POST", f"{BASE}/review:nosuchtag:main", json={}), 404)
    await problem(await api.user("POST", f"{BASE}/nosuch:default:main", json={}), 404)


async def test_an_entry_point_with_too_many_parts_is_400(api):
    await problem(await api.user("POST", f"{BASE}/a:b:c:d", json={}), 400)


async def test_sync_waits_until_the_process_waits_on_a_person(api):
    await a_definition(api)

    r = await api.user("POST", f"{BASE}/review:default:main", params={"sync": "true"}, json={})

    assert r.status == 201
    assert (await r.json())["status"] == "SUSPENDED"


async def test_sync_that_is_not_a_boolean_is_400(api):
    await a_definition(api)

    await problem(await api.user("POST", f"{BASE}/review:default:main", params={"sync": "maybe"}, json={}), 400)


async def test_a_concord_start_is_readable_through_hackney_and_altinn(api):
    await a_definition(api)
    instance_id = (await start(api, "review:default:main"))["instanceId"]

    hackney = await api.user("GET", f"{BASE}/review/{instance_id}")
    altinn = await api.user("GET", f"/apps/review/api/v1/instances/0/{instance_id}/process")

    assert (await hackney.json())["currentState"]["state"] == "Approve"
    assert (await altinn.json())["currentTask"]["elementId"] == "Approve"


# --- status, access, waiting -----------------------------------------------------------------

async def test_status_uses_the_documents_fields_and_timestamp_format(api):
    await a_definition(api)
    instance_id = (await start(api, "review:default:main"))["instanceId"]

    entry = await status_of(api, instance_id)

    assert {"instanceId", "projectName", "createdAt", "initiator", "lastUpdatedAt", "status"} <= set(entry)
    assert entry["createdAt"].endswith("+0000") and len(entry["createdAt"]) == len("2017-07-19T16:31:39.331+0000")


async def test_another_users_process_is_404_as_if_absent_and_an_admin_sees_all(api):
    await a_definition(api)
    admins = (await start(api, "review:default:main", as_user="admin"))["instanceId"]
    users = (await start(api, "review:default:main"))["instanceId"]

    await problem(await api.user("GET", f"{BASE}/{admins}"), 404)
    await problem(await api.user("GET", f"{BASE}/{admins}/waitForCompletion", params={"timeout": "0"}), 404)
    assert (await api.admin("GET", f"{BASE}/{users}")).status == 200


async def test_an_unknown_process_is_404_and_no_token_is_401(api):
    await problem(await api.user("GET", f"{BASE}/6f0c2c4e-0000-4000-8000-000000000000"), 404)
    await problem(await api.call("GET", f"{BASE}/6f0c2c4e-0000-4000-8000-000000000000", token=None), 401)


async def test_wait_for_completion_answers_the_entry_of_a_finished_process(api):
    await a_definition(api)
    instance_id = (await start(api, "review:quick"))["instanceId"]

    r = await api.user("GET", f"{BASE}/{instance_id}/waitForCompletion", params={"timeout": "1000"})

    assert r.status == 200
    assert (await r.json())["status"] == "FINISHED"


async def test_wait_for_completion_past_its_timeout_is_408_with_the_current_status(api):
    await a_definition(api)
    instance_id = (await start(api, "review:default:main"))["instanceId"]

    body = await problem(await api.user("GET", f"{BASE}/{instance_id}/waitForCompletion", params={"timeout": "0"}), 408)

    assert body["process"]["status"] == body["processStatus"] == "SUSPENDED"


async def test_wait_for_completion_with_a_timeout_that_is_not_a_number_is_400(api):
    await a_definition(api)
    instance_id = (await start(api, "review:quick"))["instanceId"]

    await problem(await api.user("GET", f"{BASE}/{instance_id}/waitForCompletion", params={"timeout": "soon"}), 400)


# --- the portal ------------------------------------------------------------------------------

async def test_the_portal_starts_and_redirects_to_a_page_with_the_start_form_and_status(api):
    await a_definition(api)

    r = await api.user("GET", f"{PORTAL}/start", params={"entryPoint": "review:default:main", "amount": "7"},
                       allow_redirects=False)

    assert r.status == 303
    page = await api.user("GET", r.headers["Location"])
    text = await page.text()
    assert page.content_type == "text/html"
    assert "SUSPENDED" in text and "name='amount' value='7'" in text and "name='note'" in text


async def test_the_portal_without_an_entry_point_is_400(api):
    await problem(await api.user("GET", f"{PORTAL}/start", allow_redirects=False), 400)


# --- uploads that are refused ----------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(HOSTILE))
async def test_a_hostile_archive_is_refused_and_nothing_is_written_or_started(api, tmp_path: Path, kind):
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()

    r = await api.user("POST", BASE, data=io.BytesIO(HOSTILE[kind]()), headers={"Content-Type": "application/zip"})

    assert r.status in (400, 413), await r.text()
    assert r.content_type == "application/problem+json"
    assert list(sentinel.iterdir()) == []
    assert await api.runtime.instance_views.by_target(ADMIN, None, limit=10, offset=0) == []


async def test_a_hostile_archive_in_a_form_is_refused_too(api):
    form = aiohttp.FormData()
    form.add_field("archive", HOSTILE["parent traversal"](), filename="payload.zip", content_type="application/octet-stream")

    body = await problem(await api.user("POST", BASE, data=form), 400)

    assert "'..'" in body["detail"]


async def test_an_archive_over_the_upload_cap_is_413(api):
    big = a_zip({"noise.bin": bytes(range(256)) * 20_000}, method=0)

    await problem(await api.user("POST", BASE, data=io.BytesIO(big), headers={"Content-Type": "application/octet-stream"}), 413)


@pytest.mark.parametrize(("name", "filename"), [("../x.txt", "x.txt"), ("/etc/x", "x"), ("ok.txt", "../../etc/passwd"), ("a..b", None)])
async def test_form_names_with_dot_dot_or_a_leading_slash_are_400(api, name, filename):
    form = aiohttp.FormData(default_to_multipart=True)
    if filename is None:  # a text part (a parameter)
        form.add_field(name, "data")
    else:
        form.add_field(name, b"data", filename=filename, content_type="application/octet-stream")

    await problem(await api.user("POST", BASE, data=form), 400)


async def test_a_body_that_is_neither_json_zip_nor_form_is_415(api):
    await problem(await api.user("POST", BASE, data=b"hello", headers={"Content-Type": "text/plain"}), 415)


async def test_an_archive_with_nothing_to_run_is_400(api):
    r = await api.user("POST", BASE, data=a_zip({"readme.txt": "hi"}), headers={"Content-Type": "application/zip"})

    assert "nothing to run" in (await problem(r, 400))["detail"]


async def test_a_concord_yaml_flow_is_422_naming_what_is_supported(api):
    r = await api.user("POST", BASE, data=a_zip({"concord.yml": "flows: {}"}), headers={"Content-Type": "application/zip"})

    assert "flow.bpmn" in (await problem(r, 422))["detail"]


async def test_an_entry_point_naming_a_configuration_beside_an_archive_model_is_400(api):
    data = a_zip({"flow.bpmn": MODEL, "request.json": '{"entryPoint": "review:default:main"}'})

    r = await api.user("POST", BASE, data=data, headers={"Content-Type": "application/zip"})

    assert "one or the other" in (await problem(r, 400))["detail"]


# --- uploads that run (script runner and file store) -----------------------------------------

def script_zip(script: str, arguments: dict, **files: str) -> bytes:
    return a_zip({"flow.json": f'{{"script": "{script}"}}', "request.json": orjson.dumps({"arguments": arguments}).decode(), **files})


async def upload(api, data: bytes, **params) -> dict:
    r = await api.user("POST", BASE, data=io.BytesIO(data), params=params, headers={"Content-Type": "application/zip"})
    assert r.status == 201, await r.text()
    return await r.json()


async def until(probe, *, tries: int = 300):
    """Ask `probe` again (briefly sleeping) until it answers something truthy; bounded, no timing asserted."""
    for _ in range(tries):
        if answer := await probe():
            return answer
        await asyncio.sleep(0.05)
    raise AssertionError("the condition never held")


async def test_a_zip_whose_flow_names_a_script_runs_it_and_sync_answers_finished(api):
    started = await upload(api, script_zip("echo-params", {"message": "hello from a zip"}), sync="true")

    assert started["status"] == "FINISHED"
    log = await api.user("GET", f"{BASE}/{started['instanceId']}/log")
    assert log.status == 200 and log.content_type == "text/plain"
    assert "hello from a zip" in await log.text()


async def test_the_log_answers_ranges_with_206_and_past_its_end_with_416(api):
    instance_id = (await upload(api, script_zip("echo-params", {"message": "ranged"}), sync="true"))["instanceId"]
    whole = await (await api.user("GET", f"{BASE}/{instance_id}/log")).read()

    head = await api.user("GET", f"{BASE}/{instance_id}/log", headers={"Range": "bytes=0-4"})
    tail = await api.user("GET", f"{BASE}/{instance_id}/log", headers={"Range": "bytes=-7"})
    past = await api.user("GET", f"{BASE}/{instance_id}/log", headers={"Range": f"bytes={len(whole)}-"})

    assert (head.status, await head.read(), head.headers["Content-Range"]) == (206, whole[:5], f"bytes 0-4/{len(whole)}")
    assert (tail.status, await tail.read()) == (206, whole[-7:])
    assert (await problem(past, 416)) and past.headers["Content-Range"] == f"bytes */{len(whole)}"


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

    assert r.status == 201, await r.text()
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

    assert r.status == 201, await r.text()
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

    assert r.status == 201, await r.text()
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
    assert await api.runtime.instance_views.by_target(ADMIN, None, limit=10, offset=0) == []


async def test_a_missing_attachment_is_404_and_a_directory_name_is_400(api):
    instance_id = (await upload(api, script_zip("echo-params", {"message": "x"})))["instanceId"]

    await problem(await api.user("GET", f"{BASE}/{instance_id}/attachment/nope.txt"), 404)
    await problem(await api.user("GET", f"{BASE}/{instance_id}/attachment/dir/"), 400)


async def test_invalid_script_arguments_in_an_archive_are_422_and_start_nothing(api):
    r = await api.user("POST", BASE, data=io.BytesIO(script_zip("echo-params", {"nonsense": 1})),
                       headers={"Content-Type": "application/zip"})

    await problem(r, 422)


async def test_the_log_grows_while_slow_runs_and_kill_cancels_it_idempotently(api):
    instance_id = (await upload(api, script_zip("slow", {"seconds": 60})))["instanceId"]
    log = f"{BASE}/{instance_id}/log"

    async def grown(than: bytes):
        data = await (await api.user("GET", log)).read()
        return data if len(data) > len(than) and b"tick" in data else None

    earlier = await until(lambda: grown(b""))
    later = await until(lambda: grown(earlier))
    assert later.startswith(earlier)

    first, again = await api.user("DELETE", f"{BASE}/{instance_id}"), None
    done = await api.user("GET", f"{BASE}/{instance_id}/waitForCompletion")
    again = await api.user("DELETE", f"{BASE}/{instance_id}")
    assert (first.status, again.status) == (204, 204)
    assert (await done.json())["status"] == "CANCELLED"
    assert (await status_of(api, instance_id))["status"] == "CANCELLED"


async def test_another_user_cannot_kill_a_process(api):
    await a_definition(api)
    instance_id = (await start(api, "review:default:main", as_user="admin"))["instanceId"]

    await problem(await api.user("DELETE", f"{BASE}/{instance_id}"), 404)
    assert (await api.admin("GET", f"{BASE}/{instance_id}")).status == 200


async def test_a_zip_started_through_concord_is_visible_through_dspace(api):
    document = await (await api.call("GET", "/api/openapi.json", token=None)).json()
    if "/api/system/processes/{id}" not in document["paths"]:
        pytest.skip("the DSpace face is not served yet")
    instance_id = (await upload(api, script_zip("echo-params", {"message": "seen"}), sync="true"))["instanceId"]

    r = await api.user("GET", f"/api/system/processes/{instance_id}")

    assert r.status == 200, await r.text()
