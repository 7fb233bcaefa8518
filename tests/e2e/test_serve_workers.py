"""Several service processes on one database: `serve --workers N`, and reading one's writes from another."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import psutil

from infra.kafka_broker import free_port

CLI = str(Path(sys.executable).with_name("procession"))
PARTY = "347829"
LINEAR = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:altinn="http://altinn.no/process" id="D">
  <bpmn:process id="P" isExecutable="false">
    <bpmn:startEvent id="StartEvent"/>
    <bpmn:sequenceFlow id="Flow1" sourceRef="StartEvent" targetRef="Task1"/>
    <bpmn:task id="Task1" name="Utfylling"/>
    <bpmn:sequenceFlow id="Flow2" sourceRef="Task1" targetRef="Task2"/>
    <bpmn:task id="Task2" name="Bekreft"/>
    <bpmn:sequenceFlow id="Flow3" sourceRef="Task2" targetRef="EndEvent"/>
    <bpmn:endEvent id="EndEvent"/>
  </bpmn:process>
</bpmn:definitions>"""


async def token(env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(CLI, "token", "create", "--user", "alice", "--role", "admin",
                                                   env=env, stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    assert process.returncode == 0
    return out.decode().strip().splitlines()[-1]


async def healthy(url: str) -> bool:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):  # bounded: about a minute to start
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return True
            await asyncio.sleep(0.2)
    return False


@contextlib.asynccontextmanager
async def serving(env: dict[str, str], port: int, *args: str) -> AsyncIterator[asyncio.subprocess.Process]:
    server = await asyncio.create_subprocess_exec(
        CLI, "serve", "--port", str(port), *args, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert await healthy(f"http://127.0.0.1:{port}")
        yield server
    finally:
        if server.returncode is None:
            server.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            await server.wait()


def environment(database_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROCESSION_")}
    env.update(DATABASE_URL=database_url, PROCESSION_DATA_DIR=str(tmp_path), PROCESSION_LOG_REQUESTS="false")
    return env


async def workers_of(server: asyncio.subprocess.Process, count: int, *, gone: int | None = None) -> list[int]:
    """The supervisor's worker pids once `count` of them listen (and `gone`, a killed one, is not among them)."""
    for _ in range(300):
        listening = []
        for child in psutil.Process(server.pid).children():
            with contextlib.suppress(psutil.Error):  # a worker that just died
                if any(c.status == psutil.CONN_LISTEN for c in child.net_connections("tcp")):
                    listening.append(child.pid)
        if len(listening) == count and gone not in listening:
            return listening
        await asyncio.sleep(0.2)
    raise AssertionError(f"expected {count} listening workers")


async def test_workers_share_one_port_and_a_killed_worker_is_replaced(database_url, tmp_path):
    env = environment(database_url, tmp_path)
    admin = {"Authorization": f"Bearer {await token(env)}"}
    port = free_port()
    async with serving(env, port, "--workers", "2") as server:
        first = await workers_of(server, 2)
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession(headers=admin) as session:
            for n in range(10):  # new connections each time: the kernel spreads them
                async with aiohttp.ClientSession(headers=admin) as fresh:
                    async with fresh.post(f"{base}/api/process/v1", json={"name": f"k{n}", "script": "echo-params"}) as r:
                        assert r.status == 201
            os.kill(first[0], signal.SIGKILL)
            replaced = await workers_of(server, 2, gone=first[0])
            assert first[0] not in replaced and first[1] in replaced
            async with session.get(f"{base}/api/process/v1") as r:
                assert sorted(c["_id"] for c in await r.json()) == [f"k{n}" for n in range(10)]
    assert server.returncode == 0
    assert not any(psutil.pid_exists(pid) for pid in replaced)  # the workers stop with the supervisor


async def test_a_write_answered_by_one_process_is_read_at_once_from_another(database_url, tmp_path):
    env = environment(database_url, tmp_path)
    admin = {"Authorization": f"Bearer {await token(env)}"}
    a_port, b_port = free_port(), free_port()
    async with serving(env, a_port), serving(env, b_port), aiohttp.ClientSession(headers=admin) as http:
        a, b = f"http://127.0.0.1:{a_port}", f"http://127.0.0.1:{b_port}"
        for n in range(15):
            writer, reader = (a, b) if n % 2 == 0 else (b, a)
            async with http.post(f"{writer}/api/process/v1", json={"_id": "k", "script": "echo-params",
                                                                  "description": f"v{n}"}) as r:
                assert r.status == 201
            async with http.get(f"{reader}/api/process/v1/k") as r:  # the definitions read model
                assert (await r.json())["description"] == f"v{n}"
        async with http.post(f"{a}/api/process/v1", json={"_id": "linear", "workflow": LINEAR}) as r:
            assert r.status == 201
        for n in range(5):
            async with http.post(f"{a}/apps/linear/api/v1/instances", params={"instanceOwnerPartyId": PARTY}) as r:
                assert r.status == 201
                guid = (await r.json())["id"].split("/")[1]
                path = f"/apps/linear/api/v1/instances/{PARTY}/{guid}/process"
            async with http.post(f"{b}{path}/start") as r:
                assert r.status == 200, await r.text()
            async with http.put(f"{a}{path}/next") as r:
                assert r.status == 200
            async with http.get(f"{b}{path}") as r:
                assert (await r.json())["currentTask"]["elementId"] == "Task2"
            # the process list is a read model too (process_view), written by either process
            async with http.get(f"{b}/api/system/processes/{guid}") as r:
                assert (await r.json())["status"] == "RUNNING"
