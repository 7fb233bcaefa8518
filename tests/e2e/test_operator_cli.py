"""Every operator command of the `procession` CLI, run against a real database beside a running service."""

from __future__ import annotations

import asyncio
import io
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import orjson
import pytest

from services.cli import main
from tests.conftest import TEMPLATE, with_database
from tests.concord_face import script_zip
from tests.polling import until

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D">
  <bpmn:process id="P" isExecutable="true">
    <bpmn:startEvent id="main"/>
    <bpmn:task id="Approve" name="Approve"/>
    <bpmn:endEvent id="Done"/>
    <bpmn:sequenceFlow id="f1" sourceRef="main" targetRef="Approve"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Approve" targetRef="Done"/>
  </bpmn:process>
</bpmn:definitions>"""
MACHINE = {"initialState": "Open", "states": {"Open": {"triggers": {"Close": "Closed"}}, "Closed": {"final": True}}}


@pytest.fixture
def procession(settings, capsys):
    """Run `procession ...` (in a thread: it runs its own event loop) on the test's database."""
    async def call(*argv: str, database: str | None = None) -> tuple[int, str, str]:
        capsys.readouterr()
        options = ["--database-url", database or settings.database_url, "--data-dir", str(settings.data_dir)]
        code = await asyncio.to_thread(main, [*argv[:2], *options, *argv[2:]])
        out, err = capsys.readouterr()
        return code, out, err

    return call


async def as_json(procession, *argv: str, database: str | None = None):
    code, out, err = await procession(*argv, "-o", "json", database=database)
    assert code == 0, err
    return orjson.loads(out)


async def run_script(api, script: str, arguments: dict, **params: str) -> str:
    r = await api.user("POST", "/api/v1/process", data=io.BytesIO(script_zip(script, arguments)), params=params,
                       headers={"Content-Type": "application/zip"})
    assert r.status == 200, await r.text()
    return (await r.json())["instanceId"]


async def test_version_is_printed(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("procession 0.1.0")


async def test_db_check_and_migrate_and_commands_refused_on_an_unmigrated_database(settings, procession):
    assert (await procession("db", "check"))[0] == 0
    pool = await asyncpg.connect(settings.database_url)
    try:
        await pool.execute("DELETE FROM procession_migrations")
    finally:
        await pool.close()
    code, _, err = await procession("db", "check")
    assert code == 1 and "db migrate" in err
    code, _, err = await procession("definitions", "list")
    assert code == 2 and "run `procession db migrate`" in err
    code, out, _ = await procession("db", "migrate")
    assert (code, out.strip()) == (0, "migrations applied")
    assert (await procession("db", "check"))[0] == 0
    assert (await procession("definitions", "list"))[0] == 0


async def test_definitions_deploy_list_show_tag_rollback(api, procession, tmp_path):
    (tmp_path / "nightly.json").write_text('{"name": "nightly", "script": "echo-params", "description": "one"}')
    (tmp_path / "approval.bpmn").write_text(BPMN)
    (tmp_path / "ticket.json").write_text(orjson.dumps(MACHINE).decode())
    deployed = await as_json(procession, "definitions", "deploy", str(tmp_path / "nightly.json"),
                             str(tmp_path / "approval.bpmn"), str(tmp_path / "ticket.json"))
    assert [(d["key"], d["version"], d["changed"]) for d in deployed] == [
        ("nightly", 1, True), ("approval", 1, True), ("ticket", 1, True)]
    (tmp_path / "v2.json").write_text('{"script": "echo-params", "description": "two"}')
    again = await as_json(procession, "definitions", "deploy", str(tmp_path / "v2.json"), "--key", "nightly")
    assert (again[0]["key"], again[0]["version"]) == ("nightly", 2)
    assert (await api.user("GET", "/api/process/v1/nightly")).status == 200  # the service sees it at once

    code, table, _ = await procession("definitions", "list")
    assert code == 0 and table.splitlines()[0].split()[:3] == ["KEY", "VERSION", "SCRIPT"]
    assert {line.split()[0] for line in table.splitlines()[1:]} == {"approval", "nightly", "ticket"}
    listed = await as_json(procession, "definitions", "list")
    assert {(d["key"], d["version"]) for d in listed} == {("approval", 1), ("nightly", 2), ("ticket", 1)}

    shown = await as_json(procession, "definitions", "show", "nightly", "--version", "1")
    assert (shown["configuration"]["description"], shown["version"], [v["version"] for v in shown["versions"]]) == (
        "one", 1, [2, 1])
    code, text, _ = await procession("definitions", "show", "nightly")
    assert code == 0 and "description  two" in text

    tagged = await as_json(procession, "definitions", "tag", "nightly", "1", "stable")
    assert tagged == {"key": "nightly", "tag": "stable", "version": 1}
    assert (await as_json(procession, "definitions", "show", "nightly", "--version", "stable"))["version"] == 1

    rolled = await as_json(procession, "definitions", "rollback", "nightly")
    assert rolled == {"key": "nightly", "removed": 2, "current": 1}
    code, _, err = await procession("definitions", "rollback", "nightly")
    assert code == 1 and "nothing to roll back to" in err
    assert (await as_json(procession, "definitions", "show", "nightly"))["configuration"]["description"] == "one"

    project = tmp_path / "hello-project"
    (project / "concord").mkdir(parents=True)
    (project / "concord.yml").write_text("flows:\n  default:\n    - call: greet\n")
    (project / "concord" / "more.concord.yml").write_text("flows:\n  greet:\n    - log: hello\n")
    [concord] = await as_json(procession, "definitions", "deploy", str(project / "concord.yml"))
    assert (concord["key"], concord["version"]) == ("hello-project", 1)
    stored = (await as_json(procession, "definitions", "show", "hello-project"))["configuration"]["workflow"]
    assert set(stored["concord"]) == {"concord.yml", "concord/more.concord.yml"}
    (tmp_path / "broken.yml").write_text("flows: {}\n")
    code, _, err = await procession("definitions", "deploy", str(tmp_path / "broken.yml"))
    assert code == 1 and "not a Concord project file" in err
    code, _, err = await procession("definitions", "show", "missing")
    assert code == 1 and "Not found" in err


async def test_instances_list_show_history_cancel_retry(api, procession):
    done = await run_script(api, "echo-params", {"message": "hello"}, sync="true")
    failed = await run_script(api, "fail", {}, sync="true")
    slow = await run_script(api, "slow", {"seconds": 120})

    listed = await as_json(procession, "instances", "list")
    assert {i["id"] for i in listed} == {done, failed, slow}
    assert [i["id"] for i in await as_json(procession, "instances", "list", "--status", "failed")] == [failed]
    assert [i["id"] for i in await as_json(procession, "instances", "list", "--definition", "echo-params")] == [done]
    assert await as_json(procession, "instances", "list", "--user", "nobody") == []
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert await as_json(procession, "instances", "list", "--since", future) == []
    code, table, _ = await procession("instances", "list", "--status", "completed")
    assert code == 0 and done in table and failed not in table

    shown = await as_json(procession, "instances", "show", done)
    assert (shown["status"], shown["current_task"], shown["parameters"]) == ("completed", None, {"message": "hello"})
    assert any("hello" in line for line in shown["log"])
    code, text, _ = await procession("instances", "show", failed)
    assert code == 0 and "status        failed" in text

    history = await as_json(procession, "instances", "history", done)
    assert [e["originator_version"] for e in history] == list(range(1, len(history) + 1))
    assert history[0]["type"].endswith("Created") and history[-1]["type"] == "ProcessInstance.Ended"

    async def is_running() -> bool:
        return (await as_json(procession, "instances", "show", slow))["status"] == "running"

    await until(is_running)
    cancelled = await as_json(procession, "instances", "cancel", slow)
    assert cancelled["id"] == slow

    async def stopped() -> bool:
        return (await as_json(procession, "instances", "show", slow))["status"] == "stopped"

    await until(stopped)

    retried = await as_json(procession, "instances", "retry", failed)
    assert retried["retry_of"] == failed and retried["id"] not in (failed, done, slow)
    again = await api.runtime.instances.get(retried["id"])
    original = await api.runtime.instances.get(failed)
    assert (again.attributes["retryOf"], again.definition_key) == (failed, original.definition_key)
    code, _, err = await procession("instances", "retry", done)
    assert code == 1 and "not a failed script run" in err
    code, _, err = await procession("instances", "show", str(uuid.uuid4()))
    assert code == 1


async def test_schedules_list_pause_resume_trigger(api, procession, tmp_path):
    (tmp_path / "yearly.json").write_text(
        '{"name": "yearly", "script": "echo-params", "cron": "0 0 1 1 *", "input": {"message": "new year"}}')
    assert (await procession("definitions", "deploy", str(tmp_path / "yearly.json")))[0] == 0

    [schedule] = await as_json(procession, "schedules", "list")
    assert (schedule["key"], schedule["enabled"], schedule["last_fire"]) == ("yearly", True, None)
    upcoming = datetime.fromisoformat(schedule["next_fire"])
    assert (upcoming.month, upcoming.day, upcoming.hour) == (1, 1, 0) and upcoming > datetime.now(UTC)

    assert await as_json(procession, "schedules", "pause", "yearly") == {"key": "yearly", "enabled": False, "version": 2}
    [paused] = await as_json(procession, "schedules", "list")
    assert (paused["enabled"], paused["next_fire"]) == (False, None)
    assert await as_json(procession, "schedules", "resume", "yearly") == {"key": "yearly", "enabled": True, "version": 3}
    code, table, _ = await procession("schedules", "list")
    assert code == 0 and "yearly" in table and "0 0 1 1 *" in table

    triggered = await as_json(procession, "schedules", "trigger", "yearly")
    instance = await api.runtime.instances.get(triggered["id"])
    assert (instance.definition_key, instance.parameters) == ("yearly", {"message": "new year"})
    (tmp_path / "plain.json").write_text('{"name": "plain", "script": "echo-params"}')
    await procession("definitions", "deploy", str(tmp_path / "plain.json"))
    code, _, err = await procession("schedules", "pause", "plain")
    assert code == 1 and "no cron schedule" in err


async def test_events_export_and_import_show_progress(api, procession, admin_url, tmp_path):
    for i in range(3):
        assert (await api.admin("POST", "/api/process/v1", json={"name": f"E{i}", "script": "echo-params"})).status == 201
    log = tmp_path / "log.ndjson"
    code, _, err = await procession("events", "export", "-o", str(log))
    assert code == 0 and "export: 100%" in err and f"exported {await api.event_count()} events" in err
    assert len(log.read_bytes().splitlines()) == await api.event_count()

    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        empty = with_database(admin_url, name)
        code, _, err = await procession("events", "import", str(log), database=empty)
        assert code == 0, err
        assert "import: 100%" in err and "rebuild every read model: 100%" in err
        listed = await as_json(procession, "definitions", "list", database=empty)
        assert {d["key"] for d in listed} == {"E0", "E1", "E2"}
    finally:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.close()
