"""One Concord process: its status, who may see it, waiting for it, killing it, its attachments."""

from __future__ import annotations

from tests.concord_face import BASE, a_definition, script_zip, start, status_of, upload
from tests.concord_face import settings  # noqa: F401 (the fixture: the face's small caps)
from tests.problems import problem


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


async def test_a_missing_attachment_is_404_and_a_directory_name_is_400(api):
    instance_id = (await upload(api, script_zip("echo-params", {"message": "x"})))["instanceId"]

    await problem(await api.user("GET", f"{BASE}/{instance_id}/attachment/nope.txt"), 404)
    await problem(await api.user("GET", f"{BASE}/{instance_id}/attachment/dir/"), 400)


async def test_another_user_cannot_kill_a_process(api):
    await a_definition(api)
    instance_id = (await start(api, "review:default:main", as_user="admin"))["instanceId"]

    await problem(await api.user("DELETE", f"{BASE}/{instance_id}"), 404)
    assert (await api.admin("GET", f"{BASE}/{instance_id}")).status == 200
