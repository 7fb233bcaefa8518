"""The scheduler: starts scheduled instances when their time comes, runs cron schedules,
fails the Concord processes whose `processTimeout` has passed (a process waiting on a form
would otherwise only notice when someone answered it), and starts a Concord process's
`onFailure` / `onCancel` / `onTimeout` flow as a new process when it ended so.

One scheduler acts at a time across service processes (a PostgreSQL lease). Each start is
an idempotent command besides, so even two schedulers acting at once start each thing once:
a scheduled instance is started with the key `scheduled:<id>`, a cron fire with
`cron:<key>:<fire time>`.

Cron (a decision the documents leave open): the schedule of a definition's current version,
while that version is not disabled (`enabled: false` stops it). Fire times are counted from
the later of the last fire started and the version's creation, so a new version or a
re-enabled one does not catch up on the past. Fires missed while no scheduler ran collapse
into ONE run, for the latest missed fire time, when a scheduler comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from events.concord.program import HANDLER_KINDS, KIND_ATTRIBUTE, PARENT_ATTRIBUTE, PROFILES_ATTRIBUTE
from events.cron import CronError, parse_cron
from events.errors import DomainError
from infra import metrics
from infra.aio import background, wait_event
from infra.leases import Lease
from infra.tokens import Principal
from services.common.principals import SYSTEM
from services.common.times import iso_z
from services.instances.commands import StartInstance, TimeOutInstance
from services.scripts.commands import StartProcess

log = logging.getLogger(__name__)
NAME = "scheduler"
_MAX_CATCH_UP = 100_000  # fire times walked to find the latest missed one

class Scheduler:
    """`run()` until cancelled; `tick(now)` does one round (tests call it directly)."""

    def __init__(self, runtime: Any, *, poll_seconds: float = 1.0, lease_seconds: float = 10.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.runtime = runtime
        self.views = runtime.schedule_views
        self.poll_seconds = poll_seconds
        self.lease = Lease(runtime.pool, NAME, ttl_seconds=lease_seconds)
        self.clock = clock
        self._wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None  # set while it runs in the background
        runtime.store.follow(lambda _position: self._wake.set())

    async def run(self) -> None:
        """Hold the lease and tick; another process's scheduler takes over if this one stops."""
        try:
            while True:
                self._wake.clear()
                try:
                    if await self.lease.keep():
                        await self.tick(self.clock())
                except Exception:  # noqa: BLE001 - the scheduler must outlive one bad round
                    log.exception("scheduler round failed")
                await wait_event(self._wake, self.poll_seconds)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.lease.release())

    async def tick(self, now: datetime) -> None:
        """Start every scheduled instance and cron fire that is due; fail the processes past their timeout."""
        await self.start_due(now)
        await self.fire_cron(now)
        await self.time_out_overdue(now)
        await self.start_handlers()

    async def start_handlers(self) -> int:
        """Start the onFailure / onCancel / onTimeout process of each Concord process that ended so; how many."""
        started = 0
        for parent_id, flow in await self.views.handlers_due():
            try:
                parent = await self.runtime.instances.get(str(parent_id))
                arguments: dict[str, Any] = {**parent.parameters, PARENT_ATTRIBUTE: str(parent_id)}
                if flow != "onCancel":
                    arguments["lastError"] = {"message": parent.failure}
                attributes: dict[str, Any] = {PARENT_ATTRIBUTE: str(parent_id), KIND_ATTRIBUTE: HANDLER_KINDS[flow]}
                if profiles := parent.attributes.get(PROFILES_ATTRIBUTE):
                    attributes[PROFILES_ATTRIBUTE] = profiles
                # As in Concord, the handler runs as the process's initiator, of the same definition version.
                command = StartProcess(definition=parent.definition_key, selector=str(parent.definition_version),
                                       arguments=arguments, start_event=flow, attributes=attributes)
                await self.runtime.scripts.start(Principal(parent.initiator, "user"), command, f"handler:{parent_id}")
                started += 1
            except DomainError as e:  # deleted meanwhile, or the definition no longer runs
                log.warning("the %s process of %s was not started: %s", flow, parent_id, e)
            await self.views.record_handler(parent_id)
        return started

    async def time_out_overdue(self, now: datetime) -> int:
        """Fail every process whose processTimeout has passed (waiting on a form, say); how many."""
        failed = 0
        for instance_id in await self.views.overdue(now):
            try:
                answer = await self.runtime.instances.time_out(SYSTEM, TimeOutInstance(str(instance_id), now))
            except DomainError as e:  # ended or deleted meanwhile
                log.info("timing out %s skipped: %s", instance_id, e)
                continue
            failed += answer.status == "failed"
        return failed

    async def start_due(self, now: datetime) -> int:
        """Start the scheduled instances whose time has come; how many were started."""
        started = 0
        for instance_id in await self.views.due_starts(now):
            try:
                await self.runtime.instances.start(SYSTEM, StartInstance(str(instance_id)), f"scheduled:{instance_id}")
                started += 1
                metrics.scheduler_fired("scheduled")
            except DomainError as e:  # stopped or deleted meanwhile, or started by another scheduler
                log.info("scheduled start of %s skipped: %s", instance_id, e)
                metrics.scheduler_missed("scheduled")
        return started

    async def fire_cron(self, now: datetime) -> int:
        """Start one run per definition whose cron fired since its last run; how many fired."""
        fired = 0
        for schedule in await self.views.cron_schedules():
            try:
                due, passed = _walk(schedule.cron, schedule.since, now)
            except CronError:
                continue  # the definition service refuses these; an old one may linger
            if due is None:
                continue
            metrics.scheduler_missed("cron", passed - 1)  # collapsed into the one run for `due`
            await self._fire(schedule.key, due)
            await self.views.record_fire(schedule.definition_id, due)
            fired += 1
        return fired

    async def _fire(self, key: str, due: datetime) -> None:
        stamp = iso_z(due)
        try:
            await self.runtime.scripts.start(SYSTEM, StartProcess(definition=key, attributes={"cronFire": stamp}), f"cron:{key}:{stamp}")
            metrics.scheduler_fired("cron")
        except DomainError as e:  # disabled meanwhile, or defaults that do not fit the script
            log.warning("cron run of %s at %s not started: %s", key, stamp, e)
            metrics.scheduler_missed("cron")


def latest_fire(expression: str, since: datetime, now: datetime) -> datetime | None:
    """The latest fire time in (since, now], or None."""
    return _walk(expression, since, now)[0]


def _walk(expression: str, since: datetime, now: datetime) -> tuple[datetime | None, int]:
    """The latest fire time in (since, now] and how many fire times passed (counted up to a cap)."""
    schedule = parse_cron(expression)
    latest, t = None, schedule.next_after(since)
    for passed in range(_MAX_CATCH_UP):
        if t is None or t > now:
            return latest, passed
        latest, t = t, schedule.next_after(t)
    # Very many missed fires (a per-second schedule down for a day): look only at the last hour.
    recent = latest_fire(expression, max(latest or since, now - timedelta(hours=1)), now) if latest else None
    return recent or latest, _MAX_CATCH_UP


@contextlib.asynccontextmanager
async def running_scheduler(runtime: Any) -> AsyncIterator[Scheduler]:
    """Run the scheduler in the background while the block runs."""
    settings = runtime.settings
    scheduler = Scheduler(runtime, poll_seconds=settings.scheduler_poll_seconds, lease_seconds=settings.singleton_lease_seconds)
    async with background(scheduler.run(), "scheduler") as scheduler.task:
        yield scheduler
