"""Concord projects (concord.yml) through HTTP: our own projects under tests/fixtures/concord/,
zipped here, started as a Concord user would, their logs and variables checked."""

from __future__ import annotations

import re
from pathlib import Path
from uuid import UUID

import aiohttp
import pytest

from infra.settings import Settings
from tests.polling import until
from tests.problems import problem
from tests.zips import a_zip

BASE = "/api/v1/process"
PROJECTS = Path(__file__).parent.parent / "fixtures" / "concord"
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z \[(INFO |WARN |ERROR)\] (.*)$")


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """A small step budget, so a runaway flow is stopped quickly."""
    return Settings(database_url=database_url, data_dir=tmp_path / "data", log_requests=False,
                    max_wait_seconds=20.0, concord_step_budget=300)


def project_zip(name: str, **extra: bytes | str) -> bytes:
    """The project folder as an archive (paths relative to the folder), plus any extra files."""
    root = PROJECTS / name
    files: dict[str, bytes | str] = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    return a_zip({**files, **extra})


async def upload(api, archive: bytes, *, sync: bool = True, **fields: str):
    form = aiohttp.FormData()
    form.add_field("archive", archive, filename="payload.zip", content_type="application/octet-stream")
    for name, value in fields.items():
        form.add_field(name, value)
    return await api.user("POST", f"{BASE}?sync={'true' if sync else 'false'}", data=form)


async def started(api, archive: bytes, **fields: str) -> dict:
    r = await upload(api, archive, **fields)
    assert r.status == 200, await r.text()
    return await r.json()


async def log_of(api, instance_id: str) -> list[tuple[str, str]]:
    r = await api.user("GET", f"{BASE}/{instance_id}/log")
    assert r.status == 200
    lines = []
    for raw in (await r.text()).splitlines():
        m = LINE.match(raw)
        assert m, f"not a Concord log line: {raw!r}"
        lines.append((m.group(1).strip(), m.group(2)))
    return lines


async def test_the_control_flow_steps_run_as_in_concord(api) -> None:
    body = await started(api, project_zip("basics"), **{"arguments.name": "Concord", "arguments.count": "3"})
    assert body["status"] == "FINISHED"
    assert [text for _, text in await log_of(api, body["instanceId"])] == [
        "Hello, Concord!",
        "total=30 colors={favourite=green, second=blue}",
        "big",
        "it is green",
        "hello, flows",
        "reply=flows answered",
        "item 0: a",
        "item 1: b",
        "three=4 half=2.0 ternary=yes",
        "caught: broken on purpose",
        "bye",
    ]


async def test_every_step_is_an_event_that_other_faces_and_feeds_see(api) -> None:
    body = await started(api, project_zip("basics"), **{"arguments.name": "x"})
    status = await api.user("GET", f"{BASE}/{body['instanceId']}")
    assert (await status.json())["status"] == "FINISHED"
    rows = await api.runtime.store.pool.fetch(
        "SELECT topic FROM procession_events WHERE originator_id = $1 ORDER BY originator_version",
        UUID(body["instanceId"]))
    names = [row["topic"].rsplit(".", 1)[-1] for row in rows]
    assert names.count("FlowStepStarted") == names.count("FlowStepEnded") > 10
    assert "VariablesSet" in names and names[-1] == "Ended"


async def test_a_form_walk_through(api) -> None:
    body = await started(api, project_zip("form"))
    pid = body["instanceId"]
    assert body["status"] == "SUSPENDED"
    r = await api.user("GET", f"{BASE}/{pid}/form")
    assert await r.json() == [{"name": "myForm", "custom": False, "yield": False}]
    r = await api.user("GET", f"{BASE}/{pid}/form/myForm")
    form = await r.json()
    fields = {f["name"]: f for f in form["fields"]}
    assert form["processInstanceId"] == pid and form["name"] == "myForm"
    assert fields["age"]["type"] == "int" and fields["age"]["cardinality"] == "ONE_AND_ONLY_ONE"
    assert fields["age"]["options"] == {"min": 21, "max": 100}
    assert fields["colour"]["allowedValue"] == ["grey", "gray", "green"]
    assert fields["note"]["cardinality"] == "ONE_OR_NONE"
    assert fields["origin"]["value"] == "portal" and fields["origin"]["options"]["readOnly"] is True

    r = await api.user("POST", f"{BASE}/{pid}/form/myForm",
                       json={"fullName": "Ada Lovelace", "age": "old", "colour": "green", "subscribe": True})
    assert r.status == 200
    refused = await r.json()
    assert refused["ok"] is False and refused["processInstanceId"] == pid
    assert refused["errors"] == {"age": "Age: expected an integer value, got old"}
    r = await api.user("POST", f"{BASE}/{pid}/form/myForm",
                       json={"fullName": "Ada", "age": 12, "colour": "red", "subscribe": True})
    assert (await r.json())["errors"] == {
        "fullName": "Name: value 'Ada' doesn't match pattern '.* .*'",
        "age": "Age: value '12' must be within 21 and 100 (inclusive)",
        "colour": "Favourite colour: value 'red' is not allowed, valid values: [grey, gray, green]",
    }
    assert (await (await api.user("GET", f"{BASE}/{pid}")).json())["status"] == "SUSPENDED"

    form_data = aiohttp.FormData()
    for name, value in {"fullName": "Ada Lovelace", "age": "36", "colour": "grey", "subscribe": "true", "origin": "hacked"}.items():
        form_data.add_field(name, value)
    r = await api.user("POST", f"{BASE}/{pid}/form/myForm?sync=true", data=form_data)
    accepted = await r.json()
    assert accepted == {"ok": True, "processInstanceId": pid, "status": "FINISHED"}
    assert [text for _, text in await log_of(api, pid)] == [
        "asking for details", "Hello, Ada Lovelace, aged 36, likes grey", "subscribed"]
    r = await api.user("GET", f"{BASE}/{pid}/form")
    assert await r.json() == []
    r = await api.user("GET", f"{BASE}/{pid}/form/myForm")
    assert r.status == 404
    # The Altinn face sees the form as a task that was visited and left.
    instance = await api.runtime.instances.get(pid)
    assert [v.element_id for v in instance.visits] == ["default", "myForm", "end"]
    assert instance.variables["myForm"]["origin"] == "portal"


async def test_a_form_submission_retried_with_its_idempotency_key_answers_the_first_answer(api) -> None:
    pid = (await started(api, project_zip("form")))["instanceId"]
    values = {"fullName": "Ada Lovelace", "age": 36, "colour": "grey", "subscribe": False}
    headers = {"Idempotency-Key": "form-1"}
    first = await api.user("POST", f"{BASE}/{pid}/form/myForm", json=values, headers=headers)
    assert await first.json() == {"ok": True, "processInstanceId": pid}
    count = await api.event_count()
    again = await api.user("POST", f"{BASE}/{pid}/form/myForm", json=values, headers=headers)
    assert again.status == 200 and await again.json() == {"ok": True, "processInstanceId": pid}
    other = await api.user("POST", f"{BASE}/{pid}/form/myForm", json={**values, "age": 37}, headers=headers)
    await problem(other, 422)
    unkeyed = await api.user("POST", f"{BASE}/{pid}/form/myForm", json=values)
    assert unkeyed.status == 404  # the form no longer waits
    assert await api.event_count() == count
    assert [t for _, t in await log_of(api, pid)] == ["asking for details", "Hello, Ada Lovelace, aged 36, likes grey"]


async def test_profiles_and_extra_files_merge(api) -> None:
    plain = await started(api, project_zip("profiles"))
    assert [t for _, t in await log_of(api, plain["instanceId"])] == ["env=base db=localhost:5432", "quiet helper"]
    both = await started(api, project_zip("profiles"), activeProfiles="staging,loud")
    assert [t for _, t in await log_of(api, both["instanceId"])] == ["env=staging db=staging.example:5432", "LOUD HELPER"]
    over = await started(api, project_zip("profiles"), activeProfiles="staging", **{"arguments.db.port": "6543"})
    assert [t for _, t in await log_of(api, over["instanceId"])][0] == "env=staging db=staging.example:6543"
    r = await upload(api, project_zip("profiles"), activeProfiles="nope")
    assert r.status == 400 and "nope" in await r.text()


async def test_unsupported_steps_are_refused_by_name_and_line(api) -> None:
    count = await api.event_count()
    r = await upload(api, project_zip("unsupported"))
    errors = "\n".join((await problem(r, 400))["errors"])
    assert "concord.yml (line 4): configuration.dependencies" in errors
    assert "concord.yml (line 10): unsupported step 'script'" in errors
    assert "concord.yml (line 12): unsupported step 'parallel'" in errors
    assert "concord.yml (line 15): unsupported step 'checkpoint'" in errors
    assert "concord.yml (line 17): triggers are not supported" in errors
    assert await api.event_count() == count  # nothing was stored


async def test_a_runaway_flow_fails_with_a_clear_line(api) -> None:
    body = await started(api, project_zip("runaway"))
    assert body["status"] == "FAILED"
    lines = await log_of(api, body["instanceId"])
    assert lines[-1][0] == "ERROR"
    assert "(concord.yml): Error @ line:" in lines[-1][1]
    assert "step budget" in lines[-1][1] or "nested deeper" in lines[-1][1]
    r = await api.user("GET", "/api/process")  # the service is unaffected
    assert r.status == 200


async def test_an_undefined_variable_fails_naming_it_and_the_step(api) -> None:
    body = await started(api, project_zip("undefined"))
    assert body["status"] == "FAILED"
    lines = await log_of(api, body["instanceId"])
    assert lines == [("INFO", "before"), ("ERROR", "(concord.yml): Error @ line: 7, col: 7. Can't find a variable 'missingVar' "
                                                    "used in 'value: ${missingVar}'. Check if it is defined in the current scope.")]


async def test_hostile_yaml_is_refused(api) -> None:
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    for text, words in [
        (laughs + "flows:\n  default:\n    - log: hi\n", "aliases count"),
        ("flows:\n  default:\n    - log: !!python/object/apply:os.system ['true']\n", "not allowed"),
        ("flows: " + "[" * 200 + "]" * 200 + "\n", "nested"),
        ("flows:\n  default:\n    - log: \"${" + "(" * 100 + "1" + ")" * 100 + "}\"\n", "nested deeper"),
    ]:
        r = await upload(api, a_zip({"concord.yml": text}))
        assert r.status == 400, await r.text()
        assert words in await r.text()


async def test_a_suspended_flow_resumes_on_its_event(api) -> None:
    body = await started(api, project_zip("suspend"))
    assert body["status"] == "SUSPENDED"
    r = await api.user("POST", f"{BASE}/{body['instanceId']}/resume/other")
    assert r.status == 409
    r = await api.user("POST", f"{BASE}/{body['instanceId']}/resume/goAhead")
    assert r.status == 200, await r.text()
    assert (await (await api.user("GET", f"{BASE}/{body['instanceId']}")).json())["status"] == "FINISHED"
    assert [t for _, t in await log_of(api, body["instanceId"])] == ["waiting for the go-ahead", "resumed"]


async def test_a_registered_script_runs_as_a_task(api) -> None:
    body = await started(api, project_zip("task"))
    pid = body["instanceId"]
    r = await api.user("GET", f"{BASE}/{pid}/waitForCompletion?timeout=20000")
    assert (await r.json())["status"] == "FINISHED", await (await api.user("GET", f"{BASE}/{pid}/log")).text()
    text = await (await api.user("GET", f"{BASE}/{pid}/log")).text()
    assert text.count("from the task") == 2
    assert "task ok=true exit=0" in text
    assert "the failing task was caught: task fail failed" in text
    assert "retry 1 of 1 in 1 s" in text
    assert text.rstrip().endswith("[INFO ] done")
    # The retry waited out its delay: its run began (TaskStarted is recorded before the request,
    # the run's first output after it) no sooner than a second after it was asked for.
    events = await api.runtime.instances.events(UUID(pid), 0, 1000)
    retried = [e for e in events if type(e).__name__ == "AutomatedTaskRequested" and e.delay_seconds]
    assert [e.delay_seconds for e in retried] == [1]
    failed_again = next(e for e in events if type(e).__name__ == "AutomatedTaskFailed"
                        and e.originator_version > retried[0].originator_version)
    assert (failed_again.timestamp - retried[0].timestamp).total_seconds() >= 1


async def test_a_task_naming_no_script_is_refused(api) -> None:
    r = await upload(api, a_zip({"concord.yml": "flows:\n  default:\n    - task: http\n      in: {url: x}\n"}))
    assert r.status == 400
    assert "concord.yml (line 3): task 'http' is not a registered script" in await r.text()


async def test_a_process_waiting_past_its_process_timeout_fails_by_itself(api) -> None:
    body = await started(api, project_zip("timeout"))
    pid = body["instanceId"]
    assert body["status"] == "SUSPENDED"

    async def timed_out() -> dict | None:
        entry = await (await api.user("GET", f"{BASE}/{pid}")).json()
        return entry if entry["status"] != "SUSPENDED" else None

    entry = await until(timed_out, within=30)
    assert entry["status"] == "TIMED_OUT"
    lines = [text for _, text in await log_of(api, pid)]
    assert lines[0] == "asking" and "never reached" not in lines and "processTimeout" in lines[-1]
    assert await (await api.user("GET", f"{BASE}/{pid}/form")).json() == []
    r = await api.user("POST", f"{BASE}/{pid}/form/approval", json={"ok": True})
    assert r.status == 404  # nothing waits any more
    child = await _child_of(api, pid, "TIMEOUT_HANDLER")
    assert [text for _, text in await log_of(api, child["instanceId"])] == [
        "timed out: process timed out: processTimeout passed"]


async def test_a_process_waiting_out_a_retry_delay_stops_at_once(api) -> None:
    flow = ("flows:\n  default:\n    - task: fail\n      retry:\n        times: 3\n        delay: 600\n"
            "    - log: \"never reached\"\n")
    r = await upload(api, a_zip({"concord.yml": flow}), sync=False)
    pid = (await r.json())["instanceId"]

    async def waiting_out_the_delay() -> bool:
        return "retry 1 of 3 in 600 s" in await (await api.user("GET", f"{BASE}/{pid}/log")).text()

    await until(waiting_out_the_delay, within=30)
    r = await api.user("DELETE", f"{BASE}/{pid}")
    assert r.status == 204
    entry = await (await api.user("GET", f"{BASE}/{pid}")).json()
    assert entry["status"] == "CANCELLED"
    # The delayed run never started: one failed run, no second.
    events = await api.runtime.instances.events(UUID(pid), 0, 1000)
    assert sum(type(e).__name__ == "AutomatedTaskFailed" for e in events) == 1


async def _child_of(api, parent: str, kind: str) -> dict:
    """The handler process a parent started (polled: the scheduler starts it in its next round)."""
    async def child() -> dict | None:
        for entry in await (await api.user("GET", f"{BASE}/{parent}/subprocess")).json():
            if entry.get("parentInstanceId") == parent and entry["kind"] == kind and entry["status"] == "FINISHED":
                return entry
        return None
    return await until(child, within=30)


async def test_a_failed_process_starts_its_on_failure_flow_as_a_new_process(api) -> None:
    body = await started(api, project_zip("handlers"))
    pid = body["instanceId"]
    assert body["status"] == "FAILED"
    entry = await (await api.user("GET", f"{BASE}/{pid}")).json()
    assert entry["handlers"] == ["onFailure", "onCancel"] and entry["kind"] == "DEFAULT"
    child = await _child_of(api, pid, "FAILURE_HANDLER")
    lines = [text for _, text in await log_of(api, child["instanceId"])]
    assert lines == [f"lastError: (concord.yml): Error @ line: 14, col: 11. boom!; parent {pid}; initiator bob"]
    assert child["handlers"] is None  # a handler's own process starts no handlers
    assert child["initiator"] == "bob"
    subprocesses = await (await api.user("GET", f"{BASE}/{pid}/subprocess")).json()
    assert [(e["instanceId"], e["kind"]) for e in subprocesses] == [(child["instanceId"], "FAILURE_HANDLER")]
    assert await (await api.admin("GET", f"{BASE}/{child['instanceId']}/subprocess")).json() == []


async def test_a_cancelled_process_starts_its_on_cancel_flow_with_its_arguments(api) -> None:
    body = await started(api, project_zip("handlers"), **{"arguments.mode": "wait"})
    pid = body["instanceId"]
    assert body["status"] == "SUSPENDED"
    assert (await api.user("DELETE", f"{BASE}/{pid}")).status == 204
    child = await _child_of(api, pid, "CANCEL_HANDLER")
    assert [text for _, text in await log_of(api, child["instanceId"])] == ["wait still here after the cancel"]
