"""The scheduler on real PostgreSQL: scheduled starts and cron fires, with two service processes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from events.instance_state import InstanceStatus
from infra.settings import Settings
from services.bootstrap import Runtime, runtime
from services.scheduling.scheduler import Scheduler, latest_fire, running_scheduler
from services.scripts.worker import running_script_worker
from services.definitions.commands import SaveDefinition
from services.scripts.commands import StartProcess
from services.scripts.commands import StopProcess
from tests.factories import ALICE
from tests.polling import until


def nightly(**overrides: object) -> dict[str, object]:
    return {"name": "nightly", "script": "echo-params", "input": {"message": "tick"}, "cron": "0 0 * * *", **overrides}


@pytest.fixture
def fast(settings: Settings) -> Settings:
    return settings.model_copy(update={"scheduler_poll_seconds": 0.2, "script_lease_seconds": 2.0})


@pytest.fixture
async def two(fast: Settings) -> AsyncIterator[tuple[Runtime, Runtime]]:
    """Two service processes on one database."""
    async with runtime(fast) as first, runtime(fast) as second:
        yield first, second


async def cron_runs(rt: Runtime, key: str) -> list[str]:
    rows = await rt.pool.fetch("SELECT instance_id FROM process_view WHERE definition_key = $1", key)
    return [(await rt.instances.get(str(r[0]))).attributes["cronFire"] for r in rows]


async def test_a_cron_fire_starts_exactly_one_run_when_two_schedulers_act_at_once(two: tuple[Runtime, Runtime]) -> None:
    first, second = two
    await first.definitions.save(ALICE, SaveDefinition("nightly", nightly()))
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    await asyncio.gather(Scheduler(first).fire_cron(tomorrow), Scheduler(second).fire_cron(tomorrow))
    await asyncio.gather(Scheduler(first).fire_cron(tomorrow), Scheduler(second).fire_cron(tomorrow))
    fires = await cron_runs(first, "nightly")
    assert fires == [tomorrow.replace(hour=0, minute=0, second=0, microsecond=0).isoformat().replace("+00:00", "Z")]


async def test_fires_missed_while_down_run_once_in_total_then_the_schedule_goes_on(two: tuple[Runtime, Runtime]) -> None:
    rt = two[0]
    await rt.definitions.save(ALICE, SaveDefinition("minutely", nightly(cron="* * * * *")))
    later = datetime.now(UTC) + timedelta(hours=3)
    scheduler = Scheduler(rt)
    assert await scheduler.fire_cron(later) == 1
    assert await scheduler.fire_cron(later) == 0
    assert await scheduler.fire_cron(later + timedelta(minutes=1)) == 1
    assert len(set(await cron_runs(rt, "minutely"))) == 2


async def test_a_disabled_configuration_has_no_schedule(two: tuple[Runtime, Runtime]) -> None:
    rt = two[0]
    await rt.definitions.save(ALICE, SaveDefinition("nightly", nightly()))
    await rt.definitions.save(ALICE, SaveDefinition("nightly", nightly(enabled=False)))
    assert await Scheduler(rt).fire_cron(datetime.now(UTC) + timedelta(days=2)) == 0
    assert await cron_runs(rt, "nightly") == []


async def test_two_running_schedulers_start_each_fire_time_once(two: tuple[Runtime, Runtime]) -> None:
    first, second = two
    await first.definitions.save(ALICE, SaveDefinition("every-second", nightly(cron="* * * * * ?")))
    async with running_scheduler(first), running_scheduler(second):
        async def three_fires() -> bool:
            return len(await cron_runs(first, "every-second")) >= 3

        await until(three_fires, within=30, every=0.1)
    fires = await cron_runs(first, "every-second")
    assert len(fires) == len(set(fires))


async def test_a_scheduled_run_survives_a_restart_and_starts_at_its_time(fast: Settings) -> None:
    async with runtime(fast) as before:
        later = datetime.now(UTC) + timedelta(seconds=1)
        started = await before.scripts.start(ALICE, StartProcess(script="echo-params", arguments={"-m": "later"}, start_at=later))
        assert started.status == InstanceStatus.SCHEDULED
    async with runtime(fast) as after, running_script_worker(after), running_scheduler(after):
        instance = await after.scripts.wait(started.id, 30)
        assert instance.status is InstanceStatus.COMPLETED and instance.started_at >= instance.scheduled_for
        assert [x["line"] for x in await after.output.output_lines(started.id)] == ["later"]


async def test_a_due_scheduled_run_is_started_once_by_two_schedulers(two: tuple[Runtime, Runtime]) -> None:
    first, second = two
    later = datetime.now(UTC) + timedelta(minutes=5)
    started = await first.scripts.start(ALICE, StartProcess(script="echo-params", arguments={"-m": "x"}, start_at=later))
    due = datetime.now(UTC) + timedelta(minutes=6)
    counts = await asyncio.gather(Scheduler(first).start_due(due), Scheduler(second).start_due(due))
    instance = await first.instances.get(started.id)
    assert instance.started and sum(1 for v in instance.visits if v.kind == "start") == 1
    assert sorted(counts) in ([0, 1], [1, 1])  # the repeat answers the first start again
    with contextlib.suppress(Exception):
        await first.scripts.stop(ALICE, StopProcess(started.id))


def test_the_latest_missed_fire_is_found_even_after_a_long_outage() -> None:
    now = datetime(2030, 1, 2, 12, 0, 30, tzinfo=UTC)
    assert latest_fire("* * * * * ?", now - timedelta(days=3), now) == now.replace(microsecond=0)
    assert latest_fire("0 0 * * *", now - timedelta(days=3), now) == datetime(2030, 1, 2, tzinfo=UTC)
    assert latest_fire("0 0 * * *", now, now + timedelta(hours=1)) is None
