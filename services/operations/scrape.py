"""The metrics scrape: the recorded families plus the followers' lag, read from the database now."""

from __future__ import annotations

from infra import metrics
from infra.follower_lag import follower_lags
from services.bootstrap import PROJECTIONS, Runtime
from services.publishing.relay import NAME as RELAY


async def scrape(rt: Runtime) -> bytes:
    """The Prometheus text exposition for this service (all its processes, when they aggregate)."""
    metrics.sample_process(rt.pool.get_size(), rt.pool.get_idle_size())
    kafka = bool(rt.settings.kafka_bootstrap_servers)
    lags = await follower_lags(rt.pool, [p.name for p in PROJECTIONS] + ([RELAY] if kafka else []))
    relay = next((lag for lag in lags if lag.name == RELAY), None)
    return metrics.exposition(metrics.lag_families([lag for lag in lags if lag.name != RELAY], relay))
