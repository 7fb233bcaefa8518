"""Readiness: whether this process should be sent traffic, and if not, why."""

from __future__ import annotations

import asyncio

from infra.follower_lag import follower_lags
from services.bootstrap import PROJECTIONS, Runtime, schema_ready
from services.publishing.relay import NAME as RELAY
from services.publishing.relay import KafkaRelay

DATABASE_TIMEOUT_SECONDS = 5.0


async def not_ready(rt: Runtime, relay: KafkaRelay | None) -> list[str]:
    """Everything that keeps the process from being ready (empty when it is).

    Ready: the database answers, this build's migrations are applied, every projection's
    oldest unapplied event is younger than the lag bound and, with Kafka configured, the
    relay has not been failing (nor left an event unpublished) for longer than its bound.
    """
    settings = rt.settings
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT_SECONDS):
            migrated = await schema_ready(rt.pool)
    except Exception as error:  # noqa: BLE001 - whatever the failure, the database is not answering
        return [f"database: not answering ({type(error).__name__})"]
    if not migrated:
        return ["migrations: this version's schema is not applied; run `procession db migrate`"]
    reasons = []
    names = [p.name for p in PROJECTIONS] + ([RELAY] if settings.kafka_bootstrap_servers else [])
    for lag in await follower_lags(rt.pool, names):
        if lag.name == RELAY:
            if lag.behind_seconds > settings.ready_relay_failure_seconds:
                reasons.append(f"relay: {lag.behind_events} events unpublished, the oldest for "
                               f"{lag.behind_seconds:.0f}s")
        elif lag.behind_seconds > settings.ready_projection_lag_seconds:
            reasons.append(f"projection {lag.name}: {lag.behind_events} events behind, the oldest waiting "
                           f"{lag.behind_seconds:.0f}s")
    if relay is not None and (failing := relay.failing_for()) > settings.ready_relay_failure_seconds:
        reasons.append(f"relay: failing for {failing:.0f}s ({relay.last_error})")
    return reasons
