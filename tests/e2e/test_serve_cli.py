"""The `procession serve` command as a newcomer runs it: a real process, a real broker."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import aiohttp
import orjson
import psutil
from aiokafka import AIOKafkaConsumer

from infra.kafka_broker import EmbeddedBroker, free_port
from tests.polling import process_gone, until

CLI = str(Path(sys.executable).with_name("procession"))


async def run(*args: str, env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(CLI, *args, env=env, stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    assert process.returncode == 0
    return out.decode().strip().splitlines()[-1]


async def healthy(url: str) -> bool:
    async with aiohttp.ClientSession() as session:

        async def answers() -> bool:
            try:
                async with session.get(f"{url}/healthz") as response:
                    return response.status == 200
            except aiohttp.ClientError:
                return False

        return await until(answers, every=0.2)  # the server gets up to a minute to start


async def test_serve_answers_and_publishes_every_event_to_kafka(database_url, tmp_path):
    broker = EmbeddedBroker()
    await broker.start()
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "PROCESSION_DATA_DIR": str(tmp_path),
           "PROCESSION_KAFKA_IDEMPOTENT": "false"}
    token = await run("token", "create", "--user", "alice", "--role", "admin", env=env)
    assert re.fullmatch(r"prc_[\w-]{40,}", token)
    server = await asyncio.create_subprocess_exec(
        CLI, "serve", "--port", str(port), "--kafka", broker.bootstrap, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        assert await healthy(url)
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
            async with session.post(f"{url}/api/process/v1", json={"name": "A", "script": "echo-params"}) as r:
                assert r.status == 201
        consumer = AIOKafkaConsumer("procession.ProcessDefinition", bootstrap_servers=broker.bootstrap,
                                    auto_offset_reset="earliest", metadata_max_age_ms=500)
        await consumer.start()
        types: list[str] = []
        try:
            for _ in range(120):
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    types += [orjson.loads(record.value)["type"] for record in records]
                if len(types) >= 2:
                    break
        finally:
            await consumer.stop()
        assert types == ["procession.ProcessDefinition.Registered", "procession.ProcessDefinition.VersionCreated"]
    finally:
        server.terminate()
        await server.wait()
        await broker.stop()


async def test_a_sigkilled_serve_leaves_neither_its_workers_nor_its_broker_nor_its_database(tmp_path):
    # The embedded defaults: the database under the data directory, the bundled broker.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PROCESSION_") and k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")}
    env.update(PROCESSION_DATA_DIR=str(tmp_path), PROCESSION_LOG_REQUESTS="false")
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        CLI, "serve", "--port", str(port), "--workers", "2", "--kafka", "embedded", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert await healthy(f"http://127.0.0.1:{port}")
        started = psutil.Process(server.pid).children()  # workers, broker, the database's watchdog
        commands = [" ".join(child.cmdline()) for child in started]
        assert sum("--reuse-port" in c for c in commands) == 2 and any(" broker " in c for c in commands), commands
        postmaster = int((tmp_path / "pg" / "postmaster.pid").read_text().split()[0])
        assert not process_gone(postmaster)
        server.kill()  # no handler, no atexit, no finalizer runs
        await server.wait()

        await until(lambda: all(process_gone(p) for p in [postmaster, *(c.pid for c in started)]), within=60)
        assert not (tmp_path / "pg" / "postmaster.pid").exists()  # a clean stop, not a kill
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()
