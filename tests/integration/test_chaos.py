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

from pathlib import Path

from tests.chaos_cluster import (
    Acknowledged,
    Load,
    chaos_rig,
    cron_fires,
    deploy,
    followers_behind,
    kafka_check,
    kill_holder,
    load_until,
    lost_writes,
    quiesce,
    read_models_match_rebuild,
    run_statuses,
    stuck_runs,
    ticker,
)

LEASE = 3.0  # seconds: singleton and script-claim leases, short to keep the test short
RELAY_BATCH = 500


async def test_killing_the_lease_holder_loses_nothing(database_url: str, scratch_url: str, tmp_path: Path) -> None:
    async with chaos_rig(database_url, tmp_path, LEASE) as rig:
        conn, acked = rig.conn, Acknowledged()
        await deploy(rig.cluster, rig.headers, ticker(enabled=True))
        load = Load(rig.cluster, rig.headers, acked)
        try:
            # Midway: kill the process holding the relay's lease (the one that publishes).
            await load_until(rig, acked, runs=5)
            kill = await kill_holder(rig, "kafka-relay")
            # Every lease it held was taken over by another process ...
            for name, old in kill.held.items():
                taken_at = kill.after[name]["expires_at"].timestamp() - LEASE  # when the new holder took it
                # ... within a lease time of the old lease running out (holders try every third of it).
                assert taken_at <= old["expires_at"].timestamp() + LEASE, name
            # The load goes on with the restarted process among the others: more runs, more cron fires.
            await load_until(rig, acked, runs=10, fires=2)
        finally:
            await load.stop()

        # Quiesce: no more cron fires; every run over; the relay and the read models at the log's end.
        await deploy(rig.cluster, rig.headers, ticker(enabled=False))
        quiet = await quiesce(conn, 40)
        stuck, behind = await stuck_runs(conn), await followers_behind(conn)
        await rig.cluster.stop()
        assert quiet, (stuck, behind, rig.cluster.problems())

        print(f"\nchaos: killed pid {kill.pid} holding {sorted(kill.held)}; acknowledged {len(acked.descriptions)} writes,"
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

        # Every event reached Kafka; repeats at most one relay batch.
        events, missing, repeats = await kafka_check(rig.pool, rig.tally)
        assert missing == 0
        assert repeats <= RELAY_BATCH
        print(f"chaos: {events} events, {len(rig.tally.ids)} messages ({repeats} repeats)")

        # Every read model equals a rebuild from the log.
        assert await read_models_match_rebuild(rig.pool, scratch_url) == []
