"""P6: the Kafka relay (acks=all) against a bare aiokafka producer, on the embedded broker.

1. The store is filled with `PERF_RELAY_EVENTS` events (default 50,000, copies of a real
   definition's events, through seed.py).
2. Bare: one AIOKafkaProducer with the relay's settings (acks=all, gzip, linger 5 ms) sends the
   very messages the relay would send (CloudEvents, same topics, keys and headers) to fresh
   topics, all awaited: messages per second.
3. Relay: `KafkaRelay.run()` publishes the whole log from position 0: events per second until
   its recorded position reaches the end.
4. Half load: another process (appender.py) appends 2-event commands at half the relay's
   event rate while the relay follows; each command's commit-to-ack time is when the relay
   recorded a position at or past it minus when its append returned (both `time.time()`).
   Meanwhile a subscriber (subscriber.py: a confluent-kafka consumer group member in its own
   process, subscribed from the start and caught up with the seeded events before the half
   load starts) reads the topics: each command's end-to-end lag is when the subscriber
   received its last event minus when its append returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from events.definition import ProcessDefinition
from infra.event_store import EventStore
from infra.kafka_broker import EmbeddedBroker
from infra.postgres import create_pool
from infra.transcoder import create_mapper
from loadgen import percentile
from seed import seed, template
from services.publishing.cloudevents import to_cloudevent, topic_for
from services.publishing.relay import _HEADERS, KafkaRelay

pytestmark = pytest.mark.perf
EVENTS = int(float(os.environ.get("PERF_RELAY_EVENTS", "50000")))
SECONDS = float(os.environ.get("PERF_SECONDS", "10"))


class TimedRelay(KafkaRelay):
    """The relay, noting when each position was recorded (acknowledged by the broker)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.recorded: list[tuple[int, float]] = []

    async def record(self, position: int) -> bool:
        done = await super().record(position)
        self.recorded.append((position, time.time()))
        return done


async def until(condition, timeout: float = 600) -> None:
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.01)


async def test_relay_against_a_bare_producer(database_url: str, tmp_path: Path, report) -> None:
    broker = EmbeddedBroker()
    await broker.start()
    pool = await create_pool(database_url, size=6)
    store = EventStore(pool, create_mapper())
    await store.start()
    try:
        definition = ProcessDefinition.register("relay-bench", {"script": "echo-params", "description": "x" * 200},
                                                "bench")
        for n in range(8):
            definition.add_version({"script": "echo-params", "description": f"v{n}" + "x" * 200}, "bench")
        await store.append(list(definition.collect_events()))
        async with pool.acquire() as conn:
            await seed(conn, await template(conn, definition.id), EVENTS)
        total = await store.max_position()
        rows = await store.read_after(0, total + 1)

        # Bare producer: the same messages, to topics of their own.
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", enable_idempotence=False,
                                    compression_type="gzip", linger_ms=5, client_id="bench-bare")
        await producer.start()
        try:
            started = time.perf_counter()
            for first in range(0, len(rows), 500):
                acks = []
                for row in rows[first:first + 500]:
                    message = orjson.dumps(to_cloudevent(row, store.to_domain_event(row), "/procession"))
                    acks.append(await producer.send(topic_for("bare", row), value=message,
                                                    key=str(row.originator_id).encode(), headers=list(_HEADERS)))
                await asyncio.gather(*acks)
            bare_seconds = time.perf_counter() - started
        finally:
            await producer.stop()

        relay = TimedRelay(store, bootstrap=broker.bootstrap, idempotent=False)
        task = asyncio.create_task(relay.run())
        subscriber = await asyncio.create_subprocess_exec(
            sys.executable, str(Path(__file__).with_name("subscriber.py")), "--bootstrap", broker.bootstrap,
            *relay.topics(), stdout=asyncio.subprocess.PIPE)
        received: dict[int, float] = {}
        reading = asyncio.create_task(_read_positions(subscriber, received))
        try:
            started = time.perf_counter()
            await until(lambda: _at(relay, total))
            relay_seconds = time.perf_counter() - started
            relay_rate = total / relay_seconds
            await until(lambda: _holds(received, total))  # the subscriber has caught up: lag, not backlog

            # Half load: 2-event commands at half the relay's event rate, from another process.
            appender = await asyncio.create_subprocess_exec(
                sys.executable, str(Path(__file__).with_name("appender.py")), "--url", database_url,
                "--rate", str(relay_rate / 4), "--seconds", str(SECONDS), stdout=asyncio.subprocess.PIPE,
            )
            out, _ = await appender.communicate()
            committed = [tuple(c) for c in orjson.loads(out)]
            last = max(p for p, _ in committed)
            await until(lambda: _at(relay, last))
            await until(lambda: _holds(received, last))
        finally:
            if subscriber.returncode is None:
                subscriber.terminate()
            await subscriber.wait()
            await reading
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    finally:
        await store.stop()
        await pool.close()
        await broker.stop()

    lags = []
    for position, at in committed:
        acked = next(t for p, t in relay.recorded if p >= position)
        lags.append(max(0.0, acked - at))
    lags.sort()
    assert relay.published_to >= last
    consumed = sorted(max(0.0, received[position] - at) for position, at in committed if position in received)
    assert len(consumed) == len(committed), f"the subscriber missed {len(committed) - len(consumed)} commands"

    report.table(
        f"P6: publishing {total:,} events to the embedded broker (acks=all)",
        ["publisher", "events", "seconds", "events/s"],
        [["bare aiokafka producer", total, bare_seconds, total / bare_seconds],
         ["relay (from position 0)", total, relay_seconds, relay_rate]],
    )
    report.table(
        f"P6: commit-to-ack at half load ({len(committed):,} commands of 2 events, {SECONDS:g} s)",
        ["from commit to", "p50 ms", "p99 ms", "max ms"],
        [["the broker's ack (relay)", 1000 * percentile(lags, 0.5), 1000 * percentile(lags, 0.99), 1000 * lags[-1]],
         ["a subscriber's poll (confluent-kafka)", 1000 * percentile(consumed, 0.5),
          1000 * percentile(consumed, 0.99), 1000 * consumed[-1]]],
    )
    print("\nRatios:")
    report.ratio("P6 relay / bare producer (events/s)", relay_rate / (total / bare_seconds), 0.5)
    report.ratio("P6 50 ms / commit-to-ack p99", 0.05 / max(1e-9, percentile(lags, 0.99)), 1)
    report.ratio("P6s commit-to-consumed p99 / commit-to-ack p99", percentile(consumed, 0.99)
                 / max(1e-9, percentile(lags, 0.99)))


async def _at(relay: TimedRelay, position: int) -> bool:
    return relay.published_to >= position


async def _holds(received: dict[int, float], position: int) -> bool:
    return position in received


async def _read_positions(subscriber: asyncio.subprocess.Process, received: dict[int, float]) -> None:
    assert subscriber.stdout is not None
    async for line in subscriber.stdout:
        position, at = line.split()
        received[int(position)] = float(at)

