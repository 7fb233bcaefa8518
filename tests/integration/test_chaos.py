"""Chaos: three `procession serve` processes on one database and one broker; the lease holder is killed.

A client spreads configuration writes, Altinn lifecycles and script runs over the three
processes while a per-second cron schedule fires. Midway, the process holding the leases
(the Kafka relay's, and the scheduler's if it has it) is killed with SIGKILL, then started
again. Afterwards: every acknowledged command is in the store, every event reached Kafka
(repeats at most one relay batch), each cron fire time started one run, no run is left
running, the leases were taken over within a lease time of their expiry, and every read
model equals a rebuild from the log. The machinery is `tests/chaos_cluster.py`, shared with
the soak benchmark (`tests/perf/test_chaos_soak.py`), which runs many such cycles.
"""

from __future__ import annotations

import asyncio
import contextlib
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
    followers_behind,
    kafka_check,
    leases,
    lost_writes,
    pid_of,
    quiesce,
    read_models_match_rebuild,
    run_statuses,
    stuck_runs,
    taken_over,
    ticker,
)

LEASE = 3.0  # seconds: singleton and script-claim leases, short to keep the test short
RELAY_BATCH = 500


async def test_killing_the_lease_holder_loses_nothing(database_url: str, scratch_url: str, tmp_path: Path) -> None:
    async with contextlib.AsyncExitStack() as stack:
        broker = EmbeddedBroker()
        await broker.start()
        stack.push_async_callback(broker.stop)
        env = cluster_env(database_url, tmp_path / "data", broker.bootstrap, LEASE)
        headers = await admin_headers(env)
        conn = await asyncpg.connect(database_url)
        stack.push_async_callback(conn.close)
        tally = KafkaTally(broker.bootstrap)
        stack.push_async_callback(tally.close)
        cluster = Cluster(env, tmp_path / "logs")
        stack.push_async_callback(cluster.stop)
        acked = Acknowledged()

        await asyncio.gather(*(cluster.start(n) for n in range(3)))
        await deploy(cluster, headers, {"_id": "linear", "workflow": LINEAR}, ticker(enabled=True))
        load = Load(cluster, headers, acked)
        try:
            # Midway: kill the process holding the relay's lease (the one that publishes).
            async with asyncio.timeout(30):
                while "kafka-relay" not in (held := await leases(conn)) or len(acked.script_runs) < 5:
                    await asyncio.sleep(0.2)
            victim = pid_of(held["kafka-relay"]["holder"])
            lost = {name: row for name, row in held.items() if pid_of(row["holder"]) == victim}
            victim_index = cluster.index_of(victim)
            await cluster.kill(victim_index)

            # Every lease it held is taken over by another process.
            now = await taken_over(conn, list(lost), victim)
            for name, old in lost.items():
                taken_at = now[name]["expires_at"].timestamp() - LEASE  # when the new holder took it
                # Taken within a lease time of the old lease running out (holders try every third of it).
                assert taken_at <= old["expires_at"].timestamp() + LEASE, name

            await cluster.start(victim_index)
            # The load goes on with the restarted process among the others: more runs, more cron fires.
            runs, fires = len(acked.script_runs), len(await cron_fires(conn))
            async with asyncio.timeout(60):
                while len(acked.script_runs) < runs + 10 or len(await cron_fires(conn)) < fires + 2:
                    await asyncio.sleep(0.2)
        finally:
            await load.stop()

        # Quiesce: no more cron fires; every run over; the relay and the read models at the log's end.
        await deploy(cluster, headers, ticker(enabled=False))
        quiet = await quiesce(conn, 40)
        stuck, behind = await stuck_runs(conn), await followers_behind(conn)
        await cluster.stop()
        assert quiet, (stuck, behind, cluster.problems())

        print(f"\nchaos: killed pid {victim} holding {sorted(lost)}; acknowledged {len(acked.descriptions)} writes,"
              f" {len(acked.instance_steps)} instances, {len(acked.script_runs)} script runs")
        assert acked.descriptions and acked.instance_steps and acked.script_runs
        # No acknowledged command lost.
        assert await lost_writes(conn, acked) == []
        # No run left RUNNING; no script task left open.
        runs = await run_statuses(conn)
        assert set(runs) <= {"completed", "failed"}
        assert await conn.fetchval("SELECT count(*) FROM script_task_view WHERE open") == 0

        # Every cron fire time started exactly one run.
        stamps = await cron_fires(conn)
        assert len(stamps) >= 2 and len(stamps) == len(set(stamps))
        print(f"chaos: {len(stamps)} cron fires, {runs.total()} script runs ({runs})")

        pool = await create_pool(database_url, size=4)
        stack.push_async_callback(pool.close)
        # Every event reached Kafka; repeats at most one relay batch.
        events, missing, repeats = await kafka_check(pool, tally)
        assert missing == 0
        assert repeats <= RELAY_BATCH
        print(f"chaos: {events} events, {len(tally.ids)} messages ({repeats} repeats)")

        # Every read model equals a rebuild from the log.
        assert await read_models_match_rebuild(pool, scratch_url) == []
