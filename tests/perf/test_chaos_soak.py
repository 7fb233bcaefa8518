"""Chaos soak (on demand): many cycles of SIGKILL to a random lease holder among three `serve` processes.

One cluster (`tests/chaos_cluster.py`: three `procession serve`, one database, one broker) runs
the whole soak. Each cycle: six clients send configuration writes, Altinn lifecycles and script
runs while a per-second cron schedule fires; after a random amount of load, one of the live
leases (projections, Kafka relay, scheduler) is picked at random and its holder is killed with
SIGKILL; once its leases are taken over it is started again; the load goes on for a while, then
stops, the schedule is disabled and the cluster quiesces. Then, per cycle: acknowledged writes,
lost ones, runs left unfinished, events missing on Kafka and repeated there, cron fire times
started twice, and whether every read model equals a rebuild from the log (rebuilt in a
scratch database; the cluster goes on). At the end the totals, which must be 0 (and "yes").

    .venv/bin/pytest tests/perf/test_chaos_soak.py -s -p no:cacheprovider

`CHAOS_CYCLES` (default 20), `CHAOS_SEED` (default random, printed: the same seed picks the same
leases and load sizes), `CHAOS_LEASE_SECONDS` (default 3: every lease, so that cycles are short).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from pathlib import Path

import asyncpg

from infra.kafka_broker import EmbeddedBroker
from infra.postgres import create_pool
from tests.chaos_cluster import (
    LINEAR,
    Acknowledged,
    Cluster,
    KafkaTally,
    Load,
    admin_headers,
    cluster_env,
    cron_fires,
    deploy,
    kafka_check,
    leases,
    lost_writes,
    pid_of,
    quiesce,
    read_models_match_rebuild,
    stuck_runs,
    taken_over,
    ticker,
    unfinished_runs,
)

CYCLES = int(os.environ.get("CHAOS_CYCLES", "20"))
SEED = int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(1_000_000))
LEASE = float(os.environ.get("CHAOS_LEASE_SECONDS", "3"))
LEASE_NAMES = ("kafka-relay", "projections", "scheduler")
HEADER = ("cycle", "killed", "leases", "takeover s", "acked", "lost", "left running", "kafka missing",
          "kafka repeated", "cron twice", "rebuild equal", "cycle s")


async def test_chaos_soak(database_url: str, scratch_url: str, tmp_path: Path, report) -> None:
    rng = random.Random(SEED)
    print(f"\nchaos soak: {CYCLES} cycles, seed {SEED}, leases {LEASE:g} s, logs in {tmp_path / 'logs'}")
    rows: list[list[object]] = []
    async with contextlib.AsyncExitStack() as stack:
        broker = EmbeddedBroker()
        await broker.start()
        stack.push_async_callback(broker.stop)
        env = cluster_env(database_url, tmp_path / "data", broker.bootstrap, LEASE)
        headers = await admin_headers(env)
        conn = await asyncpg.connect(database_url)
        stack.push_async_callback(conn.close)
        pool = await create_pool(database_url, size=4)
        stack.push_async_callback(pool.close)
        tally = KafkaTally(broker.bootstrap)
        stack.push_async_callback(tally.close)
        cluster = Cluster(env, tmp_path / "logs")
        stack.push_async_callback(cluster.stop)

        await asyncio.gather(*(cluster.start(n) for n in range(3)))
        await deploy(cluster, headers, {"_id": "linear", "workflow": LINEAR})
        repeated_before = twice_before = 0
        for cycle in range(1, CYCLES + 1):
            began = time.monotonic()
            await deploy(cluster, headers, ticker(enabled=True))
            acked = Acknowledged()
            load = Load(cluster, headers, acked)
            try:
                # A random amount of load first, with every lease held.
                first = rng.randint(3, 20)
                async with asyncio.timeout(90):
                    while len(held := await leases(conn)) < len(LEASE_NAMES) or len(acked.script_runs) < first:
                        await asyncio.sleep(0.1)
                name = rng.choice(LEASE_NAMES)
                victim = pid_of(held[name]["holder"])
                lost_leases = sorted(n for n, row in held.items() if pid_of(row["holder"]) == victim)
                victim_index = cluster.index_of(victim)
                killed = time.monotonic()
                await cluster.kill(victim_index)
                await taken_over(conn, lost_leases, victim)
                takeover = time.monotonic() - killed
                await cluster.start(victim_index)
                runs, fires = len(acked.script_runs), len(await cron_fires(conn))
                after = rng.randint(3, 20)
                async with asyncio.timeout(90):
                    while len(acked.script_runs) < runs + after or len(await cron_fires(conn)) < fires + 1:
                        await asyncio.sleep(0.1)
            finally:
                await load.stop()
            await deploy(cluster, headers, ticker(enabled=False))
            if not await quiesce(conn, 60):
                print("  not quiesced within 60 s:", *await stuck_runs(conn), sep="\n    ")
            left = await unfinished_runs(conn)
            lost = await lost_writes(conn, acked)
            _, missing, repeated = await kafka_check(pool, tally)
            stamps = await cron_fires(conn)
            twice = len(stamps) - len(set(stamps))
            differ = await read_models_match_rebuild(pool, scratch_url)
            row = [cycle, f"serve {victim_index} (pid {victim})", "+".join(lost_leases), round(takeover, 1), acked.writes(),
                   len(lost), left, missing, repeated - repeated_before, twice - twice_before,
                   "yes" if not differ else f"no: {', '.join(differ)}", round(time.monotonic() - began, 1)]
            repeated_before, twice_before = repeated, twice
            rows.append(row)
            print("  " + "  ".join(f"{h}={v}" for h, v in zip(HEADER, row)), flush=True)
            for line in lost[:5]:
                print(f"    lost: {line}")

        problems = cluster.problems()
    totals = ["total", f"{len(rows)} kills", "", round(sum(r[3] for r in rows) / len(rows), 1)]  # type: ignore[misc]
    totals += [sum(r[i] for r in rows) for i in range(4, 10)]  # type: ignore[misc]
    totals += ["yes" if all(r[10] == "yes" for r in rows) else "no", round(sum(r[11] for r in rows), 1)]  # type: ignore[misc]
    report.table(f"Chaos soak: {len(rows)} cycles, seed {SEED} (takeover: mean seconds from SIGKILL)", HEADER, [*rows, totals])
    print(f"  error lines in the services' logs: {len(problems)}", *problems[:10], sep="\n    ")
    assert all(r[5] == 0 for r in rows), "acknowledged writes lost"
    assert all(r[6] == 0 for r in rows), "runs left unfinished"
    assert all(r[7] == 0 for r in rows), "events missing on Kafka"
    assert all(r[9] == 0 for r in rows), "a cron fire time started twice"
    assert all(r[10] == "yes" for r in rows), "read models differ from a rebuild"
