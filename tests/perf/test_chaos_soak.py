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

import os
import random
import time
from pathlib import Path

from tests.chaos_cluster import (
    Acknowledged,
    Load,
    chaos_rig,
    cron_fires,
    deploy,
    kafka_check,
    kill_holder,
    load_until,
    lost_writes,
    quiesce,
    read_models_match_rebuild,
    stuck_runs,
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
    rows: list[list] = []
    async with chaos_rig(database_url, tmp_path, LEASE) as rig:
        repeated_before = twice_before = 0
        for cycle in range(1, CYCLES + 1):
            began = time.monotonic()
            await deploy(rig.cluster, rig.headers, ticker(enabled=True))
            acked = Acknowledged()
            load = Load(rig.cluster, rig.headers, acked)
            try:
                # A random amount of load first, then the holder of a random lease killed.
                await load_until(rig, acked, runs=rng.randint(3, 20))
                kill = await kill_holder(rig, rng.choice(LEASE_NAMES))
                await load_until(rig, acked, runs=rng.randint(3, 20), fires=1)
            finally:
                await load.stop()
            await deploy(rig.cluster, rig.headers, ticker(enabled=False))
            if not await quiesce(rig.conn, 60):
                print("  not quiesced within 60 s:", *await stuck_runs(rig.conn), sep="\n    ")
            left = await unfinished_runs(rig.conn)
            lost = await lost_writes(rig.conn, acked)
            _, missing, repeated = await kafka_check(rig.pool, rig.tally)
            stamps = await cron_fires(rig.conn)
            twice = len(stamps) - len(set(stamps))
            differ = await read_models_match_rebuild(rig.pool, scratch_url)
            row = [cycle, f"serve {kill.index} (pid {kill.pid})", "+".join(sorted(kill.held)), round(kill.seconds, 1),
                   acked.writes(), len(lost), left, missing, repeated - repeated_before, twice - twice_before,
                   "yes" if not differ else f"no: {', '.join(differ)}", round(time.monotonic() - began, 1)]
            repeated_before, twice_before = repeated, twice
            rows.append(row)
            print("  " + "  ".join(f"{h}={v}" for h, v in zip(HEADER, row)), flush=True)
            for line in lost[:5]:
                print(f"    lost: {line}")
        problems = rig.cluster.problems()
    totals = ["total", f"{len(rows)} kills", "", round(sum(r[3] for r in rows) / len(rows), 1)]
    totals += [sum(r[i] for r in rows) for i in range(4, 10)]
    totals += ["yes" if all(r[10] == "yes" for r in rows) else "no", round(sum(r[11] for r in rows), 1)]
    report.table(f"Chaos soak: {len(rows)} cycles, seed {SEED} (takeover: mean seconds from SIGKILL)", HEADER, [*rows, totals])
    print(f"  error lines in the services' logs: {len(problems)}", *problems[:10], sep="\n    ")
    assert all(r[5] == 0 for r in rows), "acknowledged writes lost"
    assert all(r[6] == 0 for r in rows), "runs left unfinished"
    assert all(r[7] == 0 for r in rows), "events missing on Kafka"
    assert all(r[9] == 0 for r in rows), "a cron fire time started twice"
    assert all(r[10] == "yes" for r in rows), "read models differ from a rebuild"
