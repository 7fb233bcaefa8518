"""What the scheduler reads and records: due scheduled starts, cron schedules, and the last fire of each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from events.cron import CronError, parse_cron
from services.scheduling.cron_words import describe, next_fires

_CRON_DEFINITIONS = """
SELECT d.definition_id, d.key, d.configuration->>'cron' AS cron, v.created_at, s.last_fire
FROM definition_view d
JOIN definition_version_view v ON v.definition_id = d.definition_id AND v.version = d.current_version
LEFT JOIN cron_state s ON s.definition_id = d.definition_id
WHERE d.configuration ? 'cron' AND jsonb_typeof(d.configuration->'cron') = 'string'
  AND coalesce(d.configuration->>'enabled', 'true') <> 'false'
"""
_ALL_SCHEDULES = """
SELECT d.key, d.configuration->>'cron' AS cron, coalesce(d.configuration->>'enabled', 'true') <> 'false' AS enabled,
       s.last_fire
FROM definition_view d LEFT JOIN cron_state s ON s.definition_id = d.definition_id
WHERE d.configuration ? 'cron' AND jsonb_typeof(d.configuration->'cron') = 'string'
ORDER BY d.key
"""


@dataclass(frozen=True)
class ScheduleState:
    """One definition's schedule as an operator sees it: paused or not, last and next fire."""

    key: str
    cron: str
    enabled: bool
    last_fire: datetime | None
    next_fire: datetime | None


@dataclass(frozen=True)
class UpcomingStart:
    """A cron fire still to come: when, and which definition it starts."""

    at: datetime
    key: str
    cron: str
    words: str  # the schedule in words ("on weekdays at 06:30 (UTC)")


@dataclass(frozen=True)
class CronSchedule:
    """An enabled definition's cron, with when its current version began and when it last fired."""

    definition_id: UUID
    key: str
    cron: str
    created_at: datetime
    last_fire: datetime | None

    @property
    def since(self) -> datetime:
        """Fires are counted from the later of the last fire and the version's creation."""
        return max(t for t in (self.last_fire, self.created_at) if t is not None)


class ScheduleViews:
    """Queries over the process list and the definitions for the scheduler, and its `cron_state` table."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def due_starts(self, now: datetime, limit: int = 100) -> list[UUID]:
        """Scheduled instances whose time has come, earliest first."""
        rows = await self.pool.fetch(
            "SELECT instance_id FROM process_view WHERE status = 'scheduled' AND scheduled_for <= $1"
            " ORDER BY scheduled_for LIMIT $2", now, limit,
        )
        return [r["instance_id"] for r in rows]

    async def overdue(self, now: datetime, limit: int = 100) -> list[UUID]:
        """Unfinished instances whose deadline (a Concord processTimeout) has passed, earliest first."""
        rows = await self.pool.fetch(
            "SELECT instance_id FROM instance_view WHERE deadline <= $1 AND ended_at IS NULL"
            " ORDER BY deadline LIMIT $2", now, limit,
        )
        return [r["instance_id"] for r in rows]

    async def handlers_due(self, limit: int = 100) -> list[tuple[UUID, str]]:
        """Processes that ended badly and whose handler flow has not been started yet: (id, flow)."""
        rows = await self.pool.fetch(
            "SELECT v.instance_id, v.handler_due FROM instance_view v WHERE v.handler_due IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM handler_runs h WHERE h.instance_id = v.instance_id)"
            " ORDER BY v.ended_at LIMIT $1", limit,
        )
        return [(r["instance_id"], r["handler_due"]) for r in rows]

    async def record_handler(self, instance_id: UUID) -> None:
        """Remember that a process's handler was started (or could not be)."""
        await self.pool.execute("INSERT INTO handler_runs (instance_id) VALUES ($1) ON CONFLICT DO NOTHING", instance_id)

    async def cron_schedules(self) -> list[CronSchedule]:
        """Every enabled definition whose current version has a cron."""
        return [CronSchedule(**r) for r in await self.pool.fetch(_CRON_DEFINITIONS)]

    async def record_fire(self, definition_id: UUID, fire: datetime) -> None:
        """Remember a fire as started (never moving the last fire back)."""
        await self.pool.execute(
            "INSERT INTO cron_state (definition_id, last_fire) VALUES ($1, $2)"
            " ON CONFLICT (definition_id) DO UPDATE SET last_fire = greatest(cron_state.last_fire, excluded.last_fire)",
            definition_id, fire,
        )

    async def listing(self, now: datetime) -> list[ScheduleState]:
        """Every cron schedule, paused ones too; a paused (or unreadable) one has no next fire time."""
        schedules = []
        for row in await self.pool.fetch(_ALL_SCHEDULES):
            try:
                upcoming = parse_cron(row["cron"]).next_after(now) if row["enabled"] else None
            except CronError:
                upcoming = None
            schedules.append(ScheduleState(row["key"], row["cron"], row["enabled"], row["last_fire"], upcoming))
        return schedules

    async def upcoming(self, now: datetime, count: int = 5) -> list[UpcomingStart]:
        """The next `count` cron fires after `now` across every enabled schedule, soonest first."""
        fires: list[UpcomingStart] = []
        for schedule in await self.cron_schedules():
            try:
                parsed = parse_cron(schedule.cron)
            except CronError:
                continue
            words = describe(parsed)
            # A schedule fires at most `count` times among the soonest.
            fires.extend(UpcomingStart(at, schedule.key, schedule.cron, words) for at in next_fires(parsed, now, count))
        return sorted(fires, key=lambda f: (f.at, f.key))[:count]
