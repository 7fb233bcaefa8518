"""The Kafka relay: follows the global event log and publishes every event, in order.

Delivery guarantee: at least once, in order per aggregate. The position is recorded only
after the broker acknowledged a whole batch, so a crash re-publishes at most that batch;
consumers drop repeats by the CloudEvent `id`, which is stable per stored event. One relay
publishes at a time across all service processes (a PostgreSQL lease, which also fences
the position update). A broker outage pauses the relay with backoff; it resumes where it
stopped.

Topics are one per aggregate type, created when missing with the configured partition count;
keys are aggregate ids, so each aggregate's events keep their order on one partition. The
producer is idempotent where the broker grants a producer id; where it refuses one, the relay
publishes without (a warning, `procession_relay_idempotence_refused_total`, and `/readyz`
names it) instead of stalling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

import orjson

from contracts.published import PUBLISHED
from infra import metrics, tracking
from infra.aio import background, wait_event
from infra.event_store import EventStore, RecordedEvent
from infra.kafka_broker import EmbeddedBroker
from infra.kafka_publisher import KafkaPublisher, Message
from infra.leases import Lease
from infra.settings import Settings
from services.publishing.cloudevents import to_cloudevent, topic_for

log = logging.getLogger(__name__)
NAME = "kafka-relay"
# CloudEvents Kafka binding, structured mode: the whole event is the value.
_HEADERS = (("content-type", b"application/cloudevents+json"),)


class KafkaRelay:
    """Publishes the event log to Kafka; `run()` until cancelled.

    A follower of the log like a projection: its position is a tracking row, moved only
    after the broker's ack and only while it holds its lease (checked in the same transaction).
    """

    def __init__(
        self, store: EventStore, *, bootstrap: str, prefix: str = "procession", source: str = "/procession",
        idempotent: bool = True, batch: int = 500, lease_seconds: float = 10.0, request_timeout_ms: int = 10_000,
        partitions: int = 1, replication_factor: int = 1,
    ) -> None:
        self.store = store
        self.bootstrap = bootstrap
        self.prefix = prefix
        self.source = source
        self.idempotent = idempotent
        self.batch = batch
        self.lease = Lease(store.pool, NAME, ttl_seconds=lease_seconds)
        self.request_timeout_ms = request_timeout_ms
        self.partitions, self.replication_factor = partitions, replication_factor
        self.idempotence_refused: str | None = None  # why the broker refused a producer id, while it does
        self.published_to = 0
        self.failures = 0  # consecutive failed attempts; 0 while the broker answers
        self.failing_since: float | None = None  # monotonic time of the first failure in a row
        self.last_error: str | None = None
        self.task: asyncio.Task[None] | None = None  # set while it runs in the background
        self._resume: int | None = None  # where to publish from, while the lease is held
        self._wake = asyncio.Event()
        store.follow(lambda _position: self._wake.set())

    def publisher(self) -> KafkaPublisher:
        """A new (not yet started) publisher to this relay's brokers."""
        return KafkaPublisher(self.bootstrap, idempotent=self.idempotent, request_timeout_ms=self.request_timeout_ms,
                              client_id="procession-relay", partitions=self.partitions,
                              replication_factor=self.replication_factor, topics=self.topics())

    def topics(self) -> list[str]:
        """Every topic the relay publishes to: one per aggregate type with published events."""
        return sorted({f"{self.prefix}.{name.partition('.')[0]}" for name in PUBLISHED})

    async def position(self) -> int:
        """How far the relay has published (acknowledged by the broker)."""
        return await tracking.position(self.store.pool, NAME)

    async def publish_next(self, publisher: KafkaPublisher) -> int:
        """Publish the next batch and record it; returns how many events were published."""
        if self._resume is None:  # newly holding the lease: start where the last holder stopped
            self._resume = await self.position()
        rows = await self.store.read_after(self._resume, self.batch)
        if rows:
            await self.send(publisher, rows)
            await self.record(rows[-1].position)
        return len(rows)

    async def send(self, publisher: KafkaPublisher, rows: list[RecordedEvent]) -> None:
        """Send a batch and wait until the broker acknowledged all of it."""
        await publisher.send_all([
            Message(topic_for(self.prefix, row), str(row.originator_id).encode(),
                    orjson.dumps(to_cloudevent(row, self.store.to_domain_event(row), self.source)), _HEADERS)
            for row in rows
        ])

    async def record(self, position: int) -> bool:
        """Record the acknowledged position, unless another relay holds the lease now."""
        async with self.store.pool.acquire() as conn, conn.transaction():
            if not await self.lease.held_in(conn):
                self._resume = None
                return False  # the new holder publishes from the recorded position
            await tracking.record(conn, NAME, position)
        self.published_to = self._resume = position
        return True

    async def run(self) -> None:
        """Hold the lease and publish until cancelled; back off while the broker is away."""
        publisher: KafkaPublisher | None = None
        try:
            while True:
                self._wake.clear()
                try:
                    if not await self.lease.keep():
                        self._resume = None
                        await self._sleep(self.lease.ttl_seconds / 3)
                        continue
                    if publisher is None:
                        publisher = self.publisher()
                        await publisher.start()
                        self._note_idempotence(publisher)
                    count = await self.publish_next(publisher)
                    self.failures, self.failing_since = 0, None
                    metrics.relay_succeeded()
                except Exception as error:  # noqa: BLE001 - the relay must outlive any outage
                    self.failures += 1
                    self.failing_since = self.failing_since or time.monotonic()
                    self.last_error = repr(error)
                    metrics.relay_failed()
                    log.warning("relay paused: %r (attempt %d)", error, self.failures)
                    self._resume = None
                    if publisher is not None:
                        await publisher.close()
                        publisher = None
                    await asyncio.sleep(min(10.0, 0.2 * 2**self.failures))
                    continue
                if count < self.batch:
                    await self._sleep(self.lease.ttl_seconds / 3)
        finally:
            if publisher is not None:
                await publisher.close()
            with contextlib.suppress(Exception):
                await asyncio.shield(self.lease.release())

    def _note_idempotence(self, publisher: KafkaPublisher) -> None:
        """Say once, when it changes, whether the broker refused the idempotent producer."""
        if publisher.refusal is not None:
            metrics.relay_idempotence_refused()
            if self.idempotence_refused is None:
                log.warning("the Kafka broker refused a producer id (%s): publishing without the idempotent "
                            "producer; a retried send may be stored twice (consumers drop repeats by id)",
                            publisher.refusal)
        elif self.idempotence_refused is not None:
            log.info("the Kafka broker granted a producer id: publishing with the idempotent producer again")
        self.idempotence_refused = publisher.refusal

    def failing_for(self) -> float:
        """Seconds the relay has been failing without a success in between (0 when it is not)."""
        return 0.0 if self.failing_since is None else time.monotonic() - self.failing_since

    async def _sleep(self, seconds: float) -> None:
        await wait_event(self._wake, seconds)


@contextlib.asynccontextmanager
async def running_relay(store: EventStore, settings: Settings) -> AsyncIterator[KafkaRelay | None]:
    """Run the relay in the background while the block runs (nothing when Kafka is not set).

    `embedded` starts the bundled broker first; its address is logged.
    """
    if not settings.kafka_bootstrap_servers:
        yield None
        return
    broker = None
    bootstrap = settings.kafka_bootstrap_servers
    if bootstrap == "embedded":
        broker = EmbeddedBroker()
        await broker.start()
        bootstrap = broker.bootstrap
        log.info("embedded Kafka broker on %s", bootstrap)
    relay = KafkaRelay(store, bootstrap=bootstrap, prefix=settings.kafka_topic_prefix,
                       source=settings.kafka_source, idempotent=settings.kafka_idempotent, batch=settings.kafka_batch,
                       lease_seconds=settings.singleton_lease_seconds, partitions=settings.kafka_partitions,
                       replication_factor=settings.kafka_replication_factor)
    try:
        async with background(relay.run(), "kafka-relay") as relay.task:
            yield relay
    finally:
        if broker is not None:
            await broker.stop()
