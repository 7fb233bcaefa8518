"""The script runner and worker on real PostgreSQL and real subprocesses."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from eventsourcing.utils import get_topic

from events.errors import InvalidInput
from events.instance import ProcessInstance
from events.instance_state import InstanceStatus
from infra.settings import Settings
from services.bootstrap import Runtime, runtime
from services.scripts.runner import RunControl
from services.scripts.worker import LOST, SHUTDOWN, ScriptWorker, running_script_worker
from services.instances.commands import CreateInstance
from services.definitions.commands import SaveDefinition
from services.scripts.commands import StartProcess
from services.scripts.commands import StopProcess
from tests.factories import ALICE, BOB
from tests.polling import process_gone, until

COUNT_SCRIPT = """
name = "count"
command = ["{python}", "-u", "-c", "import sys\\nfor i in range(int(sys.argv[-1].split('=')[1])): print(f'line {i}')", "x"]
time_limit_seconds = 120
[[parameters]]
name = "-n"
nameLong = "--lines"
type = "integer"
mandatory = true
"""
SHORT_SCRIPT = """
name = "short-slow"
command = ["{python}", "-u", "-c", "import time\\nprint('start')\\ntime.sleep(30)"]
time_limit_seconds = 1
"""
LEAVES_A_CHILD_SCRIPT = """
name = "leaves-a-child"
command = ["{python}", "-u", "{here}/leaves_a_child.py"]
"""
LEAVES_A_CHILD_PY = """
import subprocess, sys, time
ignores = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(120)"
# In the script's process group, but not on the runner's pipes: the run is over when the script is.
child = subprocess.Popen([sys.executable, "-c", ignores], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
child.stdout.readline()
print("pid", child.pid, flush=True)
time.sleep(120)  # the script itself ends at SIGTERM
"""
ESCAPES_SCRIPT = """
name = "escapes"
command = ["{python}", "-u", "-c", "import subprocess, sys, time\\nchild = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'], start_new_session=True)\\nprint('pid', child.pid, flush=True)\\ntime.sleep(120)"]
"""
FLOW = """<?xml version="1.0"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="echo-params"/>
    <bpmn:serviceTask id="echo-params"/>
    <bpmn:sequenceFlow id="f2" sourceRef="echo-params" targetRef="review"/>
    <bpmn:userTask id="review"/>
    <bpmn:sequenceFlow id="f3" sourceRef="review" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>"""


@pytest.fixture
def script_settings(settings: Settings, tmp_path: Path) -> Settings:
    extra = tmp_path / "operator-scripts"
    extra.mkdir()
    (extra / "count.toml").write_text(COUNT_SCRIPT)
    (extra / "short-slow.toml").write_text(SHORT_SCRIPT)
    (extra / "leaves-a-child.toml").write_text(LEAVES_A_CHILD_SCRIPT)
    (extra / "leaves_a_child.py").write_text(LEAVES_A_CHILD_PY)
    (extra / "escapes.toml").write_text(ESCAPES_SCRIPT)
    return settings.model_copy(update={
        "scripts_dir": extra, "script_lease_seconds": 1.5, "script_stop_grace_seconds": 2.0,
    })


@pytest.fixture
async def rt(script_settings: Settings) -> AsyncIterator[Runtime]:
    async with runtime(script_settings) as r, running_script_worker(r):
        yield r


async def finished(rt: Runtime, instance_id: str, timeout: float = 60) -> ProcessInstance:
    instance = await rt.scripts.wait(instance_id, timeout)
    assert instance.status.finished or instance.status is InstanceStatus.WAITING, instance.status
    return instance


async def output_event_count(rt: Runtime, instance_id: str) -> int:
    return await rt.pool.fetchval(
        "SELECT count(*) FROM procession_events WHERE originator_id = $1 AND topic = $2",
        __import__("uuid").UUID(instance_id), get_topic(ProcessInstance.OutputAppended),
    )


async def test_a_script_that_exits_0_completes_its_instance_with_its_output(rt: Runtime) -> None:
    started = await rt.scripts.start(BOB, StartProcess(script="echo-params", arguments={"--message": "hello", "-n": 2}))
    instance = await finished(rt, started.id)
    assert instance.status is InstanceStatus.COMPLETED
    assert [x["line"] for x in await rt.output.output_lines(started.id)] == ["hello", "hello"]


async def test_a_script_that_exits_non_zero_fails_with_its_stderr_kept(rt: Runtime) -> None:
    started = await rt.scripts.start(BOB, StartProcess(script="fail"))
    instance = await finished(rt, started.id)
    assert instance.status is InstanceStatus.FAILED and "status 1" in (instance.failure or "")
    lines = await rt.output.output_lines(started.id)
    assert {"stream": "stderr", "line": "something went wrong"}.items() <= lines[0].items()


async def test_100000_lines_are_kept_complete_and_in_order_in_far_fewer_events(rt: Runtime) -> None:
    started = await rt.scripts.start(BOB, StartProcess(script="count", arguments={"lines": 100_000}))
    assert (await finished(rt, started.id, 120)).status is InstanceStatus.COMPLETED
    lines = await rt.output.output_lines(started.id)
    assert [x["line"] for x in lines] == [f"line {i}" for i in range(100_000)]
    assert [x["time"] for x in lines] == sorted(x["time"] for x in lines)
    assert await output_event_count(rt, started.id) <= 1000


@pytest.mark.parametrize("hostile", ["; rm -rf /", "$(id)", "`id` && echo pwned | cat", "-x --message=evil"])
async def test_arguments_reach_the_script_verbatim_never_through_a_shell(rt: Runtime, hostile: str) -> None:
    started = await rt.scripts.start(BOB, StartProcess(script="echo-params", arguments={"-m": hostile}))
    assert (await finished(rt, started.id)).status is InstanceStatus.COMPLETED
    assert [x["line"] for x in await rt.output.output_lines(started.id)] == [hostile]


async def test_files_the_script_writes_become_output_files_in_the_blob_store(rt: Runtime) -> None:
    started = await rt.scripts.start(BOB, StartProcess(script="csv-import", arguments={"-f": "in.csv"}, files={"in.csv": b"a,1\nb,2\n"}))
    assert (await finished(rt, started.id)).status is InstanceStatus.COMPLETED
    names = {f["name"]: f for f in await rt.output.output_files(started.id)}
    assert set(names) == {"report.txt", "mapfile"}
    path, info = await rt.output.read_file(started.id, "mapfile")
    assert path.read_bytes() == b"1 a\n2 b\n" and path.name == info["sha256"]


async def test_an_input_file_in_a_subdirectory_reaches_the_script_at_that_path(rt: Runtime) -> None:
    started = await rt.scripts.start(BOB, StartProcess(script="csv-import", arguments={"-f": "docs/a.txt"}, files={"docs/a.txt": b"x,1\n"}))
    assert (await finished(rt, started.id)).status is InstanceStatus.COMPLETED
    lines = [x["line"] for x in await rt.output.output_lines(started.id)]
    assert lines == ["row 1: x, 1", "done: 1 rows"]


@pytest.mark.parametrize("name", ["../a.txt", "/etc/a.txt", "docs/../../a.txt", "docs/", "a\\b.txt", "./a.txt"])
async def test_an_input_file_path_that_could_escape_is_refused_before_anything_runs(rt: Runtime, name: str) -> None:
    with pytest.raises(InvalidInput):
        await rt.scripts.start(BOB, StartProcess(script="csv-import", arguments={"-f": name}, files={name: b"x,1\n"}))
    assert await rt.pool.fetchval("SELECT count(*) FROM instance_view") == 0


async def test_an_input_file_under_the_output_directory_fails_the_run_instead_of_passing_for_output(rt: Runtime) -> None:
    started = await rt.scripts.start(BOB, StartProcess(script="csv-import", arguments={"-f": "output/a.csv"}, files={"output/a.csv": b"x\n"}))
    instance = await finished(rt, started.id)
    assert instance.status is InstanceStatus.FAILED and "output/ directory" in (instance.failure or "")
    assert await rt.output.output_files(started.id) == []


@pytest.mark.parametrize("arguments", [{}, {"-m": "x", "--count": "many"}, {"-m": "x", "colour": "red"}])
async def test_bad_arguments_are_refused_before_anything_runs(rt: Runtime, arguments: dict) -> None:
    with pytest.raises(InvalidInput):
        await rt.scripts.start(BOB, StartProcess(script="echo-params", arguments=arguments))
    assert await rt.pool.fetchval("SELECT count(*) FROM instance_view") == 0


async def test_a_script_past_its_time_limit_is_killed_and_fails_as_timed_out(rt: Runtime) -> None:
    started = await rt.scripts.start(BOB, StartProcess(script="short-slow"))
    instance = await finished(rt, started.id)
    assert instance.status is InstanceStatus.FAILED and "timed out" in (instance.failure or "")


async def test_stop_kills_the_running_script_and_the_instance_ends_stopped(rt: Runtime) -> None:
    started = await rt.scripts.start(BOB, StartProcess(script="slow", arguments={"seconds": 60}))
    pid = await first_pid(rt, started.id)
    await rt.scripts.stop(BOB, StopProcess(started.id))
    assert (await finished(rt, started.id)).status is InstanceStatus.STOPPED
    await gone(pid)


async def test_stop_kills_a_child_that_ignores_sigterm_when_the_script_itself_exits(rt: Runtime) -> None:
    started = await rt.scripts.start(BOB, StartProcess(script="leaves-a-child"))
    child = await first_pid(rt, started.id)  # printed once the child ignores SIGTERM
    await rt.scripts.stop(BOB, StopProcess(started.id))
    assert (await finished(rt, started.id)).status is InstanceStatus.STOPPED
    await gone(child)


async def test_a_stopped_run_ends_though_a_process_that_left_its_group_holds_its_output_open(rt: Runtime) -> None:
    started = await rt.scripts.start(BOB, StartProcess(script="escapes"))
    escaped = await first_pid(rt, started.id)  # its own session, so no signal to the script's group reaches it
    try:
        await rt.scripts.stop(BOB, StopProcess(started.id))
        assert (await finished(rt, started.id)).status is InstanceStatus.STOPPED
        await until(lambda: not rt.local_runs.controls and not rt.script_runner.process_groups)  # the run is over
        assert await rt.pool.fetchval("SELECT count(*) FROM script_run_claims WHERE NOT done") == 0
    finally:
        os.kill(escaped, signal.SIGKILL)


async def test_stopping_twice_is_harmless(rt: Runtime) -> None:
    started = await rt.scripts.start(BOB, StartProcess(script="slow", arguments={"seconds": 60}))
    await first_pid(rt, started.id)
    await rt.scripts.stop(BOB, StopProcess(started.id))
    await rt.scripts.stop(BOB, StopProcess(started.id))
    assert (await finished(rt, started.id)).status is InstanceStatus.STOPPED


async def test_a_service_task_in_a_bpmn_flow_runs_through_the_runner_and_the_flow_moves_on(rt: Runtime) -> None:
    await rt.definitions.save(ALICE, SaveDefinition("flow", {"name": "flow", "workflow": FLOW}))
    started = await rt.instances.create(BOB, CreateInstance("flow", parameters={"message": "from the flow"}))
    instance = await finished(rt, started.id)
    assert (instance.status, instance.element) == (InstanceStatus.WAITING, "review")
    assert [x["line"] for x in await rt.output.output_lines(started.id)] == ["from the flow"]


async def test_a_service_restart_mid_run_fails_the_run_instead_of_leaving_it_running(script_settings: Settings) -> None:
    async with runtime(script_settings) as first:
        async with running_script_worker(first):
            started = await first.scripts.start(BOB, StartProcess(script="slow", arguments={"seconds": 60}))
            pid = await first_pid(first, started.id)
        # the worker stopped with the service: its run is over, and the script is gone
        await gone(pid)
    async with runtime(script_settings) as second, running_script_worker(second):
        instance = await second.instances.get(started.id)
        assert (instance.status, instance.failure) == (InstanceStatus.FAILED, f"automated task script failed: {SHUTDOWN}")


async def test_kill_all_the_shutdowns_last_resort_kills_every_running_scripts_group(rt: Runtime) -> None:
    started = await rt.scripts.start(BOB, StartProcess(script="slow", arguments={"seconds": 60}))
    pid = await first_pid(rt, started.id)
    assert rt.script_runner.process_groups == {pid}
    rt.script_runner.kill_all()  # what the shutdown's deadline calls (from its own thread) before exiting
    await gone(pid)
    instance = await finished(rt, started.id)
    assert instance.status is InstanceStatus.FAILED and "status -9" in (instance.failure or "")
    assert rt.script_runner.process_groups == set()


async def test_a_run_whose_worker_died_is_failed_by_the_next_worker(script_settings: Settings) -> None:
    async with runtime(script_settings) as rt:
        started = await rt.scripts.start(BOB, StartProcess(script="slow", arguments={"seconds": 60}))
        # a worker took the run and died: its claim's lease ran out, it never reported
        await rt.pool.execute(
            "INSERT INTO script_run_claims (instance_id, request_version, worker, lease_until)"
            " SELECT instance_id, request_version, 'dead', now() - interval '1 second' FROM script_task_view"
        )
        async with running_script_worker(rt):
            instance = await finished(rt, started.id)
        assert (instance.status, instance.failure) == (InstanceStatus.FAILED, f"automated task script failed: {LOST}")


async def test_a_run_claimed_while_a_renewal_is_on_its_way_is_not_taken_for_lost(script_settings: Settings) -> None:
    """The chaos test's run left RUNNING, step by step: a claim commits while the heartbeat's
    renewal is on its way, so the renewal's answer does not name it. The run must be kept:
    judged lost, its script was killed and never reported while its claim was renewed for good."""
    async with runtime(script_settings) as rt:
        await rt.scripts.start(BOB, StartProcess(script="slow", arguments={"seconds": 60}))
        worker = ScriptWorker(rt, rt.script_runner, rt.local_runs, concurrency=1, lease_seconds=60)
        renew, crossed = worker.claims.renew, []

        async def renew_crossing_a_claim(*args: object) -> set:
            held = await renew(*args)  # the renewal's UPDATE has run ...
            claim = await worker.claims.next()  # ... and only now is the run claimed and started
            worker.local.controls[claim.key] = control = RunControl()
            crossed.append(control)
            return held

        worker.claims.renew = renew_crossing_a_claim  # type: ignore[method-assign]
        await worker.beat()
        [control] = crossed
        assert control.reason is None  # running here, not "lost"
        worker.claims.renew = renew  # type: ignore[method-assign]
        await worker.beat()
        assert control.reason is None
        row = await rt.pool.fetchrow(
            "SELECT worker, attempts, done, lease_until > clock_timestamp() AS live FROM script_run_claims")
        assert dict(row) == {"worker": worker.claims.worker, "attempts": 1, "done": False, "live": True}


async def test_a_claim_whose_run_is_not_alive_here_runs_out_and_the_next_worker_fails_it(script_settings: Settings) -> None:
    """The heartbeat renews the runs alive here only: a claim its worker holds without running
    it (the run ended without giving it back) runs out, and the next claimant fails the run."""
    async with runtime(script_settings) as rt:
        started = await rt.scripts.start(BOB, StartProcess(script="slow", arguments={"seconds": 60}))
        worker = ScriptWorker(rt, rt.script_runner, rt.local_runs, concurrency=1, lease_seconds=60)
        assert await worker.claims.next() is not None  # claimed, but nothing of it runs here
        await rt.pool.execute("UPDATE script_run_claims SET lease_until = clock_timestamp() - interval '1 second'")
        await worker.beat()
        assert await rt.pool.fetchval("SELECT lease_until <= clock_timestamp() FROM script_run_claims")
        async with running_script_worker(rt):
            instance = await finished(rt, started.id)
        assert (instance.status, instance.failure) == (InstanceStatus.FAILED, f"automated task script failed: {LOST}")


async def first_pid(rt: Runtime, instance_id: str) -> int:
    lines = await until(lambda: rt.output.output_lines(instance_id), within=30)
    return int(lines[0]["line"].split()[1])


async def gone(pid: int) -> None:
    await until(lambda: process_gone(pid), within=30)
