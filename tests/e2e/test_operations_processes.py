"""Operating real `procession serve` processes: SIGTERM under load, metrics aggregated across processes."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
from pathlib import Path

import aiohttp
import asyncpg
import orjson
from prometheus_client.parser import text_string_to_metric_families

from infra.kafka_broker import free_port
from tests.concord_face import script_zip
from tests.polling import until

CLI = str(Path(sys.executable).with_name("procession"))
BASE = "/api/v1/process"


async def cli(*args: str, env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(CLI, *args, env=env, stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    assert process.returncode == 0
    return out.decode().strip().splitlines()[-1]


async def serving(env: dict[str, str], log: Path) -> tuple[asyncio.subprocess.Process, str]:
    """A `procession serve` process, once it is ready."""
    port = free_port()
    with log.open("wb") as out:
        server = await asyncio.create_subprocess_exec(CLI, "serve", "--port", str(port), env=env,
                                                      stdout=asyncio.subprocess.DEVNULL, stderr=out)
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        for _ in range(300):  # bounded: up to about a minute to start
            try:
                async with session.get(f"{url}/readyz") as response:
                    if response.status == 200:
                        return server, url
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    server.kill()
    raise AssertionError(f"serve did not get ready: {log.read_text()[-2000:]}")


async def test_sigterm_under_load_cuts_no_request_off_and_leaves_no_run_running(database_url, tmp_path):
    """Twice, as a supervisor (or an impatient Ctrl+C) may send it: the second is only logged."""
    env = {**os.environ, "DATABASE_URL": database_url, "PROCESSION_DATA_DIR": str(tmp_path),
           "PROCESSION_SHUTDOWN_GRACE_SECONDS": "5", "PROCESSION_LOG_LEVEL": "INFO"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    token = await cli("token", "create", "--user", "alice", "--role", "admin", env=env)
    log = tmp_path / "serve.log"
    server, url = await serving(env, log)
    db = await asyncpg.connect(database_url)
    auth = {"Authorization": f"Bearer {token}"}
    try:
        async with aiohttp.ClientSession(url, headers=auth) as session:
            async def upload(script: str, seconds: int, **params: str) -> aiohttp.ClientResponse:
                r = await session.post(BASE, data=io.BytesIO(script_zip(script, {"seconds": seconds})), params=params,
                                       headers={"Content-Type": "application/zip"})
                await r.read()
                return r

            long_run = await (await upload("slow", 120)).json()

            async def running(count: int) -> bool:
                return await db.fetchval("SELECT count(*) FROM instance_view WHERE status = 'running'") >= count

            await until(lambda: running(1))
            # In flight at SIGTERM: a short script awaited with sync=true, a wait on the long run,
            # and live event streams (their headers are in: they are being served).
            short = asyncio.create_task(upload("slow", 1, sync="true"))
            waiting = [asyncio.create_task(session.get(f"{BASE}/{long_run['instanceId']}/waitForCompletion"))
                       for _ in range(5)]
            streams = [await session.get("/api/v1/events/stream") for _ in range(3)]
            await until(lambda: running(2))
            server.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.05)  # two at once would merge into one pending signal
            server.send_signal(signal.SIGTERM)  # a supervisor repeating itself: the shutdown runs its course

            short_answer = await short
            assert short_answer.status == 200 and (await short_answer.json())["status"] == "FINISHED"
            for waited in await asyncio.gather(*waiting):
                assert waited.status == 200 and (await waited.json())["status"] == "FAILED"
            for stream in streams:
                assert (await stream.read()).endswith(b'event: shutdown\ndata: {"reason":"service shutdown"}\n\n')
        assert await asyncio.wait_for(server.wait(), 60) == 0, log.read_text()[-3000:]
        assert await db.fetchval("SELECT count(*) FROM instance_view WHERE status = 'running'") == 0
        failure = await db.fetchval("SELECT status FROM instance_view WHERE instance_id = $1::uuid",
                                    long_run["instanceId"])
        assert failure == "failed"
        assert await db.fetchval("SELECT count(*) FROM procession_leases") == 0  # given back, not left to expire
        assert await db.fetchval("SELECT count(*) FROM script_run_claims WHERE NOT done") == 0
        lines = [orjson.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        assert any("service shutdown" in line["msg"] for line in lines)
        assert any("already shutting down" in line["msg"] for line in lines)
        assert [line["msg"][:200] for line in lines if line["level"] == "error"] == []
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()
        await db.close()


async def test_two_processes_sharing_a_metrics_directory_report_one_aggregate(database_url, tmp_path):
    env = {**os.environ, "DATABASE_URL": database_url, "PROCESSION_DATA_DIR": str(tmp_path),
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"), "PROCESSION_METRICS_TOKEN": "scrape",
           "PROCESSION_RUN_WORKERS": "false"}
    (tmp_path / "metrics").mkdir()
    token = await cli("token", "create", "--user", "alice", "--role", "user", env=env)
    first, first_url = await serving(env, tmp_path / "first.log")
    second, second_url = await serving(env, tmp_path / "second.log")
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
            for url, times in ((first_url, 3), (second_url, 2)):
                for _ in range(times):
                    assert (await session.get(f"{url}/api/process/v1")).status == 200
            r = await session.get(f"{first_url}/metrics", headers={"Authorization": "Bearer scrape"})
            assert r.status == 200
            text = await r.text()
    finally:
        for server in (first, second):
            server.terminate()
            await server.wait()
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    listed = [s.value for s in samples if s.name == "procession_http_request_duration_seconds_count"
              and s.labels.get("route") == "/api/process/v1" and s.labels.get("method") == "GET"]
    assert listed == [5.0]
    memory = {s.labels["pid"] for s in samples if s.name == "procession_process_resident_memory_bytes"}
    assert memory == {str(first.pid), str(second.pid)}
