"""Readiness: whether this process should be sent traffic, and if not, why."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from infra.follower_lag import follower_lags
from services.bootstrap import PROJECTIONS, Runtime, schema_ready
from services.publishing.relay import NAME as RELAY
from services.publishing.relay import KafkaRelay

DATABASE_TIMEOUT_SECONDS = 5.0


@dataclass
class RelayWatch:
    """Whether the relay's recorded position moves, as this process last saw it.

    The relay runs in whichever process holds its lease; the others judge it by its
    position in the database: stuck with events waiting is failing. A relay catching up on
    a backlog moves, so it does not make every process unready at once.
    """

    position: int = -1
    since: float = 0.0

    def stuck_for(self, position: int, behind: int) -> float:
        """Seconds the position has not moved while events wait (0 when it moved or nothing waits)."""
        now = time.monotonic()
        if position != self.position or behind == 0:
            self.position, self.since = position, now
            return 0.0
        return now - self.since


async def not_ready(rt: Runtime, relay: KafkaRelay | None, watch: RelayWatch) -> list[str]:
    """Everything that keeps the process from being ready (empty when it is).

    Ready: the database answers, this build's migrations are applied, every projection's
    oldest unapplied event is younger than the lag bound and, with Kafka configured, the
    relay has been neither failing here nor stuck (wherever it runs) for longer than its bound.
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
            if (stuck := watch.stuck_for(lag.position, lag.behind_events)) > settings.ready_relay_failure_seconds:
                reasons.append(f"relay: stuck at position {lag.position} for {stuck:.0f}s with "
                               f"{lag.behind_events} events unpublished")
        elif lag.behind_seconds > settings.ready_projection_lag_seconds:
            reasons.append(f"projection {lag.name}: {lag.behind_events} events behind, the oldest waiting "
                           f"{lag.behind_seconds:.0f}s")
    if relay is not None and (failing := relay.failing_for()) > settings.ready_relay_failure_seconds:
        reasons.append(f"relay: failing for {failing:.0f}s ({relay.last_error})")
    return reasons


def warnings(relay: KafkaRelay | None) -> list[str]:
    """What an operator should know although the process is ready (empty when nothing)."""
    if relay is not None and relay.idempotence_refused is not None:
        return [f"relay: the broker refused the idempotent producer ({relay.idempotence_refused}); "
                "publishing without it, so a retried send may be stored twice"]
    return []
