"""SIGTERM to a busy `procession serve` with the default shutdown settings, as a platform sends it.

Kubernetes (terminationGracePeriodSeconds, by default) and compose.yaml (stop_grace_period) SIGKILL
a process still there 30 s after SIGTERM. The default shutdown budget must fit inside that with a margin,
even while a script that ignores SIGTERM runs: the service kills the script's whole process
group, fails its run with "service shutdown" (once, by the process that stopped it) and exits.
The 30 s bound on the wait below is that platform deadline itself, the contract under test, not
an expectation about speed: a service still there at 30 s would have been SIGKILLed mid-way,
its script left behind and its run left RUNNING.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import orjson
import pytest

from infra.kafka_broker import free_port
from infra.settings import Settings
from services.bootstrap import runtime
from tests.concord_face import script_zip
from tests.polling import until

CLI = str(Path(sys.executable).with_name("procession"))
BASE = "/api/v1/process"
PLATFORM_KILL_DEADLINE_SECONDS = 30  # before SIGKILL: Kubernetes' default, compose.yaml's stop_grace_period
STUBBORN_TOML = """
name = "stubborn"
description = "ignores SIGTERM, and so does the child it starts in its process group"
command = ["{python}", "-u", "{here}/stubborn.py"]
"""
STUBBORN_PY = """
import os, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # inherited by the child: only SIGKILL ends them
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
print("group", os.getpgrp(), os.getpid(), child.pid, flush=True)
time.sleep(3600)
"""


def live_processes() -> list[tuple[int, int, bytes]]:
    """(pid, process group, command line) of every process but zombies."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):  # a process that ended meanwhile
                stat = (entry / "stat").read_text()
                state, _ppid, group = stat[stat.rindex(")") + 2:].split()[:3]
                if state != "Z":
                    found.append((int(entry.name), int(group), (entry / "cmdline").read_bytes()))
    return found


def group_members(group: int) -> list[int]:
    """The live processes of a process group."""
    return [pid for pid, of, _ in live_processes() if of == group]


def kill_left_behind(scripts: Path) -> None:
    """SIGKILL the group of any process still running this test's scripts (the test failed half-way)."""
    for _, group, command in live_processes():
        if str(scripts).encode() in command:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)


def environment(database_url: str, tmp_path: Path) -> dict[str, str]:
    """The defaults (no PROCESSION_* from the caller's environment), the test's database, the stubborn script."""
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "stubborn.toml").write_text(STUBBORN_TOML)
    (scripts / "stubborn.py").write_text(STUBBORN_PY)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROCESSION_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(DATABASE_URL=database_url, PROCESSION_DATA_DIR=str(tmp_path), PROCESSION_SCRIPTS_DIR=str(scripts))
    return env


async def admin_token(database_url: str, tmp_path: Path) -> str:
    async with runtime(Settings(database_url=database_url, data_dir=tmp_path), follow=False) as rt:
        _, token = await rt.tokens.issue("alice", "admin")
    return token


@contextlib.asynccontextmanager
async def serving(env: dict[str, str], log: Path, *args: str) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """A `procession serve` process once it is ready; stopped on the way out if the test left it running.

    SIGTERM first: a SIGKILLed `serve --workers` parent would leave its workers (and their scripts) running.
    """
    port = free_port()
    with log.open("ab") as out:
        server = await asyncio.create_subprocess_exec(CLI, "serve", "--port", str(port), *args, env=env,
                                                      stdout=asyncio.subprocess.DEVNULL, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:

            async def ready() -> bool:
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"{url}/readyz") as response:
                        return response.status == 200
                return False

            await until(ready, every=0.2)  # a safety bound: a minute to start
        yield server, url
    finally:
        if server.returncode is None:
            server.terminate()
            try:
                await asyncio.wait_for(server.wait(), PLATFORM_KILL_DEADLINE_SECONDS)
            except TimeoutError:
                server.kill()
                await server.wait()


def log_lines(log: Path) -> list[dict]:
    return [orjson.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


@pytest.mark.parametrize("serve_args", [(), ("--workers", "2")], ids=["serve", "serve-workers-2"])
async def test_sigterm_with_a_script_ignoring_it_exits_before_the_platform_kills_and_fails_the_run_once(
        database_url, tmp_path, serve_args):
    env = environment(database_url, tmp_path)
    token = await admin_token(database_url, tmp_path)
    auth = {"Authorization": f"Bearer {token}"}
    log = tmp_path / "serve.log"
    db = await asyncpg.connect(database_url)
    try:
        async with serving(env, log, *serve_args) as (server, url):
            async with aiohttp.ClientSession(url, headers=auth) as session:
                async with session.post(BASE, data=io.BytesIO(script_zip("stubborn", {})),
                                        headers={"Content-Type": "application/zip"}) as r:
                    assert r.status == 200, await r.text()
                    run = (await r.json())["instanceId"]

                async def started() -> list[int]:
                    async with session.get(f"{BASE}/{run}") as status, session.get(f"{BASE}/{run}/log") as text:
                        printed = re.search(r"group (\d+) (\d+) (\d+)", await text.text())
                        running = (await status.json())["status"] == "RUNNING"
                        return [int(n) for n in printed.groups()] if running and printed else []

                group, *pids = await until(started)
            assert sorted(group_members(group)) == sorted(pids)  # the script and its child, both SIGTERM-proof
            loop = asyncio.get_running_loop()
            signalled = loop.time()
            server.send_signal(signal.SIGTERM)
            try:
                code = await asyncio.wait_for(server.wait(), PLATFORM_KILL_DEADLINE_SECONDS)
            except TimeoutError:
                raise AssertionError(f"still there {PLATFORM_KILL_DEADLINE_SECONDS} s after SIGTERM: a platform would"
                                     f" SIGKILL it now\n{log.read_text()[-3000:]}") from None
            print(f"serve {' '.join(serve_args)} exited {loop.time() - signalled:.1f} s after SIGTERM")
            assert code == 0, log.read_text()[-3000:]
        # The script's group was SIGKILLed before the exit; a member may still be on its way out.
        assert await until(lambda: not group_members(group), within=10)
        # Failed by the process that stopped it, before it exited: no claim left for a restart to recover.
        assert await db.fetchval("SELECT status FROM instance_view WHERE instance_id = $1::uuid", run) == "failed"
        assert await db.fetchval("SELECT count(*) FROM script_run_claims WHERE NOT done") == 0
        lines = log_lines(log)
        assert [line["msg"] for line in lines if line["level"] == "error"] == []  # in budget: no deadline, no kill
        assert sum("stopped: service shutdown" in line["msg"] for line in lines) == 1

        async with serving(env, log) as (server, url), aiohttp.ClientSession(url, headers=auth) as session:
            # A barrier: the restarted worker has claimed (so it would have taken the old run over, too).
            async with session.post(BASE, data=io.BytesIO(script_zip("echo-params", {"message": "after"})),
                                    params={"sync": "true"}, headers={"Content-Type": "application/zip"}) as r:
                assert (r.status, (await r.json())["status"]) == (200, "FINISHED")
            async with session.get(f"{BASE}/{run}") as r:
                status = await r.json()
            assert (status["status"], status["error"]) == ("FAILED", "automated task script failed: service shutdown")

            async def none_running() -> bool:
                return await db.fetchval("SELECT count(*) FROM instance_view WHERE status = 'running'") == 0

            # The sync answer reads the instance and the view follows it a moment later, so the barrier's
            # run may show RUNNING there for that moment; a run the stop left RUNNING would stay so.
            assert await until(none_running, within=30)
            failures = await db.fetchval("SELECT count(*) FROM procession_events WHERE originator_id = $1::uuid"
                                         " AND topic LIKE '%AutomatedTaskFailed'", run)
            assert failures == 1
            server.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(server.wait(), PLATFORM_KILL_DEADLINE_SECONDS) == 0
    finally:
        kill_left_behind(tmp_path / "scripts")  # never leave a SIGTERM-proof script behind, whatever failed
        await db.close()


async def test_the_deadline_kills_the_scripts_and_exits_a_process_whose_main_thread_hangs(tmp_path):
    killed = tmp_path / "killed"
    program = (
        "import pathlib, time\n"
        "from services.operations import deadline\n"
        f"deadline.arm(0.2, lambda: pathlib.Path({str(killed)!r}).write_text('yes'))\n"
        "time.sleep(120)\n"  # a blocked event loop, a hung close: nothing else would end it
    )
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", program, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(process.communicate(), 60)  # a safety bound, far above the deadline
    assert process.returncode == 1
    assert killed.read_text() == "yes"
    assert b"shutdown overran its budget" in err
