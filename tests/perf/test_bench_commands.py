"""P3 / P4: command latency and projection lag at half of the maximum command rate.

The command is a configuration POST that makes a new version (the P2 write): first measured
closed-loop at 32 connections for the maximum rate, then open-loop at half that rate for
the latency (P3). During the half-load run a trigger on `procession_tracking` (added to the
benchmark's database only) records when each projection's position moved; an event's lag is
the time from its commit (`recorded_at`) until every read model had passed it (P4).
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from service import SECONDS, run_tool, running_service

pytestmark = pytest.mark.perf
BODY = '{"name": "bench-{key}", "script": "echo-params", "description": "run {n}"}'
TRACE = """
CREATE TABLE bench_tracking_trace (name text, position bigint, at timestamptz DEFAULT clock_timestamp());
CREATE INDEX ON bench_tracking_trace (name, position);
CREATE FUNCTION bench_trace() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO bench_tracking_trace (name, position) VALUES (NEW.name, NEW.position); RETURN NEW; END $$;
CREATE TRIGGER bench_trace AFTER INSERT OR UPDATE ON procession_tracking FOR EACH ROW EXECUTE FUNCTION bench_trace();
"""
# For each event of the window: when the slowest projection passed it, minus its commit.
LAG = """
SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY lag), max(lag), count(*) FROM (
  SELECT e.notification_id, extract(epoch FROM max(t.at) - e.recorded_at) * 1000 AS lag
  FROM procession_events e
  CROSS JOIN (SELECT DISTINCT name FROM procession_tracking WHERE name <> 'kafka-relay') p
  CROSS JOIN LATERAL (SELECT min(at) AS at FROM bench_tracking_trace x
                      WHERE x.name = p.name AND x.position >= e.notification_id) t
  WHERE e.notification_id > $1
  GROUP BY e.notification_id, e.recorded_at) lags
"""


async def test_latency_and_projection_lag_at_half_load(database_url: str, tmp_path: Path, report) -> None:
    async with running_service(database_url, tmp_path) as service:
        post = ("--method", "POST", "--header", f"Authorization: Bearer {service.token}", "--body", BODY,
                "--url", f"{service.base}/api/process/v1")
        full = run_tool(service, "loadgen.py", *post, "--concurrency", "32")
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(TRACE)
            since = await conn.fetchval("SELECT coalesce(max(notification_id), 0) FROM procession_events")
            half = run_tool(service, "loadgen.py", *post, "--concurrency", "64", "--rate", str(full["rps"] / 2))
            (p50, p99), worst, events = await conn.fetchrow(LAG, since)
        finally:
            await conn.close()
    assert full["requests"] > 0 and half["requests"] > 0 and events > 0

    report.table(
        f"P3: configuration POSTs, {SECONDS:g} s each",
        ["load", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors",
         "CPU ms/req: service", "PostgreSQL"],
        [[name, r["requests"], r["rps"], r["p50_ms"], r["p90_ms"], r["p99_ms"], r["max_ms"], r["errors"],
          f"{r['server_cpu_ms_per_request']:.2f}", f"{r['postgres_cpu_ms_per_request']:.2f}"]
         for name, r in (("maximum (closed loop, 32)", full), ("half of it (open loop)", half))],
    )
    report.table("P4: projection lag at half load (commit -> every read model's position)",
                 ["events", "p50 ms", "p99 ms", "max ms"], [[events, p50, p99, worst]])
    print("\nRatios:")
    report.ratio("P3 15 ms / p99 at half load", 15 / max(1e-9, half["p99_ms"]), 1)
    report.ratio("P4 50 ms / lag p99 at half load", 50 / max(1e-9, p99), 1)
