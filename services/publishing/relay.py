"""The Kafka relay: follows the global event log and publishes every event, in order.

Delivery guarantee: at least once, in order per aggregate. The position is recorded only
after the broker acknowledged a whole batch, so a crash re-publishes at most that batch;
consumers drop repeats by the CloudEvent `id`, which is stable per stored event. One relay
publishes at a time across all service processes (a PostgreSQL lease, which also fences
the position update). A broker outage pauses the relay with backoff; it resumes where it
stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import orjson
from aiokafka import AIOKafkaProducer

from infra.aio import background, wait_event
from infra.event_store import EventStore, RecordedEvent
from infra.kafka_broker import EmbeddedBroker
from infra.leases import Lease
from infra.settings import Settings
from services.publishing.cloudevents import to_cloudevent, topic_for

log = logging.getLogger(__name__)
NAME = "kafka-relay"
# CloudEvents Kafka binding, structured mode: the whole event is the value.
_HEADERS = [("content-type", b"application/cloudevents+json")]


class KafkaRelay:
    """Publishes the event log to Kafka; `run()` until cancelled."""

    def __init__(
        self, store: EventStore, *, bootstrap: str, prefix: str = "procession", source: str = "/procession",
        idempotent: bool = True, batch: int = 500, lease_seconds: float = 10.0, request_timeout_ms: int = 10_000,
    ) -> None:
        self.store = store
        self.bootstrap = bootstrap
        self.prefix = prefix
        self.source = source
        self.idempotent = idempotent
        self.batch = batch
        self.lease = Lease(store.pool, NAME, ttl_seconds=lease_seconds)
        self.request_timeout_ms = request_timeout_ms
        self.published_to = 0
        self.failures = 0  # consecutive failed attempts; 0 while the broker answers
        self._wake = asyncio.Event()
        store.follow(lambda _position: self._wake.set())

    def _producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            enable_idempotence=self.idempotent,
            compression_type="gzip",
            linger_ms=5,
            request_timeout_ms=self.request_timeout_ms,
            client_id="procession-relay",
        )

    async def position(self) -> int:
        """How far the relay has published (acknowledged by the broker)."""
        return await self.store.pool.fetchval(
            "SELECT coalesce((SELECT position FROM procession_tracking WHERE name = $1), 0)", NAME
        )

    async def publish_next(self, producer: AIOKafkaProducer) -> int:
        """Publish the next batch and record it; returns how many events were published."""
        rows = await self.store.read_after(await self.position(), self.batch)
        if rows:
            await self.send(producer, rows)
            await self.record(rows[-1].position)
        return len(rows)

    async def send(self, producer: AIOKafkaProducer, rows: list[RecordedEvent]) -> None:
        """Send a batch and wait until the broker acknowledged all of it."""
        acks = []
        for row in rows:
            message = orjson.dumps(to_cloudevent(row, self.store.to_domain_event(row), self.source))
            acks.append(await producer.send(
                topic_for(self.prefix, row), value=message, key=str(row.originator_id).encode(), headers=_HEADERS
            ))
        await asyncio.gather(*acks)

    async def record(self, position: int) -> bool:
        """Record the acknowledged position, unless another relay holds the lease now."""
        async with self.store.pool.acquire() as conn, conn.transaction():
            if not await self.lease.held_in(conn):
                return False  # the new holder publishes from the recorded position
            await conn.execute(
                "INSERT INTO procession_tracking (name, position) VALUES ($1, $2)"
                " ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                NAME, position,
            )
        self.published_to = position
        return True

    async def run(self) -> None:
        """Hold the lease and publish until cancelled; back off while the broker is away."""
        producer: AIOKafkaProducer | None = None
        try:
            while True:
                self._wake.clear()
                try:
                    if not await self.lease.acquire():
                        await self._sleep(self.lease.ttl_seconds / 3)
                        continue
                    if producer is None:
                        producer = self._producer()
                        await producer.start()
                    count = await self.publish_next(producer)
                    self.failures = 0
                except Exception as error:  # noqa: BLE001 - the relay must outlive any outage
                    self.failures += 1
                    log.warning("relay paused: %r (attempt %d)", error, self.failures)
                    if producer is not None:
                        await _close(producer)
                        producer = None
                    await asyncio.sleep(min(10.0, 0.2 * 2**self.failures))
                    continue
                if count < self.batch:
                    await self._sleep(self.lease.ttl_seconds / 3)
        finally:
            if producer is not None:
                await _close(producer)
            with contextlib.suppress(Exception):
                await asyncio.shield(self.lease.release())

    async def _sleep(self, seconds: float) -> None:
        await wait_event(self._wake, seconds)


async def _close(producer: AIOKafkaProducer) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(producer.stop(), 5)


@contextlib.asynccontextmanager
async def running_relay(store: EventStore, settings: Settings) -> AsyncIterator[KafkaRelay | None]:
    """Run the relay in the background while the block runs (nothing when Kafka is not set).

    `embedded` starts the bundled broker first; its address is logged.
    """
    if not settings.kafka_bootstrap_servers:
        yield None
        return
    broker = None
    bootstrap, idempotent = settings.kafka_bootstrap_servers, settings.kafka_idempotent
    if bootstrap == "embedded":
        broker = EmbeddedBroker()
        await broker.start()
        bootstrap, idempotent = broker.bootstrap, False
        log.info("embedded Kafka broker on %s", bootstrap)
    relay = KafkaRelay(store, bootstrap=bootstrap, prefix=settings.kafka_topic_prefix,
                       source=settings.kafka_source, idempotent=idempotent)
    try:
        async with background(relay.run(), "kafka-relay"):
            yield relay
    finally:
        if broker is not None:
            await broker.stop()
