"""A Concord process's log: ranges, and a log that grows while the process runs (then is killed)."""

from __future__ import annotations

from tests.concord_face import BASE, script_zip, status_of, upload
from tests.concord_face import settings  # noqa: F401 (the fixture: the face's small caps)
from tests.polling import until
from tests.problems import problem


async def test_the_log_answers_ranges_with_206_and_past_its_end_with_416(api):
    instance_id = (await upload(api, script_zip("echo-params", {"message": "ranged"}), sync="true"))["instanceId"]
    whole = await (await api.user("GET", f"{BASE}/{instance_id}/log")).read()

    head = await api.user("GET", f"{BASE}/{instance_id}/log", headers={"Range": "bytes=0-4"})
    tail = await api.user("GET", f"{BASE}/{instance_id}/log", headers={"Range": "bytes=-7"})
    past = await api.user("GET", f"{BASE}/{instance_id}/log", headers={"Range": f"bytes={len(whole)}-"})

    assert (head.status, await head.read(), head.headers["Content-Range"]) == (206, whole[:5], f"bytes 0-4/{len(whole)}")
    assert (tail.status, await tail.read()) == (206, whole[-7:])
    assert (await problem(past, 416)) and past.headers["Content-Range"] == f"bytes */{len(whole)}"


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
