"""P5 / P8: rebuilding every read model over a large store, and commands on a large store.

One database, in order:
1. the service runs on the empty store: one Altinn lifecycle (its events become the seed
   template), then configuration POSTs closed-loop at 32 connections (the empty-store rate);
2. the service stops; `PERF_EVENTS` events (default 1,000,000) are copied in (seed.py);
3. the raw rate: every row read back with asyncpg, in the runner's batch size and query shape;
4. P5: every read model rebuilt from zero (ProjectionRunner.rebuild_all), timed;
5. P8: the service starts again on the large store; the same POST load; its resident memory.
"""

from __future__ import annotations

import cProfile
import os
import time
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from infra.event_store import EventStore
from infra.postgres import create_pool
from infra.projection_runner import ProjectionRunner
from infra.transcoder import create_mapper
from seed import seed, template
from service import SECONDS, run_tool, running_service
from services.bootstrap import PROJECTIONS
from test_bench_lifecycles import post_app

pytestmark = pytest.mark.perf
# PERF_PROFILE=<file>: cProfile the rebuild into that file (pstats format).
PROFILE = os.environ.get("PERF_PROFILE")
EVENTS = int(float(os.environ.get("PERF_EVENTS", "1000000")))
BODY = '{"name": "bench-{key}", "script": "echo-params", "description": "run {n}"}'
READ = ("SELECT notification_id, originator_id, originator_version, topic, state FROM procession_events"
        " WHERE notification_id > $1 ORDER BY notification_id LIMIT $2")


async def one_lifecycle(base: str, token: str) -> str:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        async with session.post(f"{base}/apps/linear/api/v1/instances", params={"instanceOwnerPartyId": "1"}) as r:
            assert r.status == 201
            guid = (await r.json())["id"].split("/")[1]
        path = f"{base}/apps/linear/api/v1/instances/1/{guid}/process"
        for method, url in (("POST", f"{path}/start"), ("PUT", f"{path}/next"), ("PUT", f"{path}/next")):
            async with session.request(method, url) as r:
                assert r.status == 200, await r.text()
    return guid


def posts(service) -> dict:
    return run_tool(service, "loadgen.py", "--method", "POST", "--header", f"Authorization: Bearer {service.token}",
                    "--body", BODY, "--url", f"{service.base}/api/process/v1", "--concurrency", "32")


async def raw_read_rate(url: str, batch: int) -> tuple[int, float]:
    conn = await asyncpg.connect(url)
    try:
        position, count, started = 0, 0, time.perf_counter()
        while rows := await conn.fetch(READ, position, batch):
            position, count = rows[-1][0], count + len(rows)
        return count, time.perf_counter() - started
    finally:
        await conn.close()


async def test_rebuild_and_commands_on_a_large_store(database_url: str, tmp_path: Path, report) -> None:
    async with running_service(database_url, tmp_path / "empty") as service:
        await post_app(service.base, service.token)
        guid = await one_lifecycle(service.base, service.token)
        empty = posts(service)
        empty_rss = service.rss_mb()

    conn = await asyncpg.connect(database_url)
    try:
        events = await template(conn, __import__("uuid").UUID(guid))
        started = time.perf_counter()
        seeded = await seed(conn, events, EVENTS)
        seed_seconds = time.perf_counter() - started
        total = await conn.fetchval("SELECT count(*) FROM procession_events")
    finally:
        await conn.close()

    pool = await create_pool(database_url, size=4)
    try:
        store = EventStore(pool, create_mapper())
        runner = ProjectionRunner(store, PROJECTIONS)
        raw_count, raw_seconds = await raw_read_rate(database_url, runner.batch)
        profile = cProfile.Profile() if PROFILE else None
        started = time.perf_counter()
        if profile:
            profile.enable()
        await runner.rebuild_all()
        rebuild_seconds = time.perf_counter() - started
        if profile:
            profile.disable()
            profile.dump_stats(PROFILE)
        instances = await pool.fetchval("SELECT count(*) FROM instance_view")
    finally:
        await pool.close()
    assert raw_count == total and instances >= seeded // len(events)

    async with running_service(database_url, tmp_path / "large") as service:
        large = posts(service)
        large_rss = service.rss_mb()
    assert empty["requests"] > 0 and large["requests"] > 0

    print(f"\nPostgreSQL: {await report.server_settings(database_url)}")
    print(f"seeded {seeded:,} events ({len(events)}-event instances) in {seed_seconds:.1f} s; store: {total:,} events")
    report.table(
        "P5: rebuilding every read model from zero",
        ["what", "events", "seconds", "events/s"],
        [["raw asyncpg read of every row", raw_count, raw_seconds, raw_count / raw_seconds],
         ["rebuild of every read model", total, rebuild_seconds, total / rebuild_seconds]],
    )
    report.table(
        f"P8: configuration POSTs, 32 connections, {SECONDS:g} s",
        ["store", "requests", "req/s", "p50 ms", "p99 ms", "errors", "service RSS MB"],
        [[name, r["requests"], r["rps"], r["p50_ms"], r["p99_ms"], r["errors"], f"{rss:.0f}"]
         for name, r, rss in (("empty", empty, empty_rss), (f"{total:,} events", large, large_rss))],
    )
    print("\nRatios:")
    report.ratio("P5 rebuild events/s / 30,000", total / rebuild_seconds / 30_000, 1)
    report.ratio("P5 rebuild / raw read (events/s)", (total / rebuild_seconds) / (raw_count / raw_seconds), 0.3)
    report.ratio("P8 req/s large store / empty store", large["rps"] / empty["rps"], 0.9)
    report.ratio("P8 300 MB / service RSS", 300 / large_rss, 1)
