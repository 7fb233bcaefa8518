"""Automated tasks through the application service, asOf reads, and the per-instance event feed."""

from __future__ import annotations

import asyncio

import pytest

from infra.tokens import Principal
from services.instances.commands import CompleteTask, CreateInstance, FailTask
from tests.e2e.test_portal_security import sign_in

WORKER = Principal("worker", "admin")
BOB = Principal("bob", "user")  # the e2e user token's user: the instance is theirs


@pytest.fixture
def settings(settings):
    """No script worker here: these tests play the worker themselves through the port."""
    return settings.model_copy(update={"run_workers": False})


async def a_script_instance(api, key: str = "job") -> str:
    r = await api.admin("POST", "/api/process/v1", json={"_id": key, "script": "echo-params"})
    assert r.status == 201, await r.text()
    result = await api.runtime.instances.create(BOB, CreateInstance(key, parameters={"n": 1}))
    return result.id


async def test_an_automated_task_waits_then_completing_it_ends_the_instance(api):
    instance_id = await a_script_instance(api)
    assert (await api.runtime.instances.get(instance_id)).pending_task == "script"

    await api.runtime.instances.complete_task(WORKER, CompleteTask(instance_id, "script", {"exitCode": 0}))

    instance = await api.runtime.instances.get(instance_id)
    assert (instance.status, instance.end_event) == ("completed", "end")


async def test_failing_an_automated_task_fails_the_instance(api):
    instance_id = await a_script_instance(api)

    await api.runtime.instances.fail_task(WORKER, FailTask(instance_id, "script", "exit code 3"))

    instance = await api.runtime.instances.get(instance_id)
    assert instance.status == "failed" and "exit code 3" in instance.failure


async def test_the_event_feed_lists_an_instances_events_after_a_version(api):
    instance_id = await a_script_instance(api)
    await api.runtime.instances.complete_task(WORKER, CompleteTask(instance_id, "script", {}))

    everything = await (await api.user("GET", f"/api/v1/instances/{instance_id}/events")).json()
    later = await (await api.user("GET", f"/api/v1/instances/{instance_id}/events", params={"after": "3"})).json()

    assert [e["type"] for e in everything][:4] == ["Created", "Started", "TaskStarted", "AutomatedTaskRequested"]
    assert [e["version"] for e in later] == [e["version"] for e in everything if e["version"] > 3]


async def test_the_event_feed_refuses_bad_cursors_and_unknown_instances(api):
    instance_id = await a_script_instance(api)
    bad = await api.user("GET", f"/api/v1/instances/{instance_id}/events", params={"after": "x"})
    missing = await api.user("GET", "/api/v1/instances/00000000-0000-0000-0000-000000000000/events")
    assert (bad.status, missing.status) == (400, 404)


async def test_the_live_stream_resumes_after_last_event_id_and_sends_new_events(api):
    instance_id = await a_script_instance(api)
    response = await api.user("GET", f"/api/v1/instances/{instance_id}/events/stream", headers={"Last-Event-ID": "3"})
    assert response.headers["Content-Type"].startswith("text/event-stream")

    first = await asyncio.wait_for(response.content.readuntil(b"\n\n"), 10)
    await api.runtime.instances.complete_task(WORKER, CompleteTask(instance_id, "script", {}))
    frames = [await asyncio.wait_for(response.content.readuntil(b"\n\n"), 10) for _ in range(2)]
    response.close()

    assert first.startswith(b"id: 4\nevent: AutomatedTaskRequested")
    assert frames[0].startswith(b"id: 5\nevent: AutomatedTaskCompleted")
    assert frames[1].startswith(b"id: 6\nevent: TaskEnded")


async def test_hackney_reads_as_of_a_version_show_the_process_as_it_was(api):
    r = await api.user("POST", "/api/v1/process/example-application", json={"formData": {"a": 1}})
    process_id = (await r.json())["id"]
    await api.user("PATCH", f"/api/v1/process/example-application/{process_id}/AttachDocuments", json={})

    then = await (await api.user("GET", f"/api/v1/process/example-application/{process_id}", params={"asOf": "3"})).json()
    bad = await api.user("GET", f"/api/v1/process/example-application/{process_id}", params={"asOf": "yesterday"})

    assert then["currentState"]["state"] == "ApplicationStarted" and then["versionNumber"] == 3
    assert bad.status == 400


async def _frames_until_end(response) -> list[bytes]:
    """Every frame the stream sends until the server ends it (bounded, so a stream left open fails)."""
    frames = []
    while not response.content.at_eof():
        frame = await asyncio.wait_for(response.content.readuntil(b"\n\n"), 20)
        if frame:
            frames.append(frame)
    return frames


async def test_revoking_the_token_ends_its_open_stream(api):
    instance_id = await a_script_instance(api)
    tokens = api.runtime.tokens
    token_id, token = await tokens.issue("bob", "user")
    response = await api.call("GET", f"/api/v1/instances/{instance_id}/events/stream", token=token)
    assert (await asyncio.wait_for(response.content.readuntil(b"\n\n"), 10)).startswith(b"id: 1\n")
    await tokens.revoke(str(token_id))
    frames = await _frames_until_end(response)
    assert frames[-1].startswith(b"event: revoked\n")
    # Nothing that happens afterwards reaches the revoked caller.
    assert all(b"AutomatedTaskCompleted" not in f for f in frames)


async def test_ending_a_portal_session_ends_its_open_stream(api):
    instance_id = await a_script_instance(api)
    token_id, token = await api.runtime.tokens.issue("bob", "user")
    await sign_in(api, token)
    response = await api.client.get(f"/ui/processes/{instance_id}/live")
    assert (await asyncio.wait_for(response.content.readuntil(b"\n\n"), 10)).startswith(b"id: 1\n")
    await api.runtime.tokens.revoke(str(token_id))  # revoking the token ends the sessions it started
    frames = await _frames_until_end(response)
    assert frames[-1].startswith(b"event: revoked\n")
