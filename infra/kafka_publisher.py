"""Publishing to Kafka with aiokafka: batches sent with acks=all and awaited as a whole.

The producer is idempotent where the broker grants a producer id. A broker that answers
InitProducerId with an error (no permission, or no support: the embedded Tansu refuses
aiokafka's version 0 of the request) gets a plain acks=all producer instead, and `refusal`
says why, so that the caller can report it rather than retry forever. aiokafka sends one
request per partition at a time either way, so a retry never reorders a partition; what the
idempotent producer adds is that a retried send is not stored twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import BrokerResponseError

from infra.kafka_topics import create_missing

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    """One record: its topic, key, value and headers."""

    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


class KafkaPublisher:
    """A started producer; `send_all` returns once the broker acknowledged every message.

    Topics are created (with `partitions` partitions) before their first message; `topics`
    given at start are created at once, so subscribers can subscribe before any event.
    """

    def __init__(
        self, bootstrap: str, *, idempotent: bool, request_timeout_ms: int, client_id: str, partitions: int = 1,
        replication_factor: int = 1, topics: Iterable[str] = (),
    ) -> None:
        self.bootstrap = bootstrap
        self.idempotent = idempotent  # asked for; false after a refusal
        self.refusal: str | None = None  # why the broker refused a producer id, when it did
        self.partitions = partitions
        self.replication_factor = replication_factor
        self.request_timeout_ms = request_timeout_ms
        self.client_id = client_id
        self._initial_topics = tuple(topics)
        self._created: set[str] = set()
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        """Connect to the cluster (raises while no broker answers) and create the initial topics."""
        try:
            self._producer = await self._started(self.idempotent)
        except BrokerResponseError as error:
            if not self.idempotent:
                raise
            self._producer = await self._started(False)  # still raises if the broker refuses more than that
            self.idempotent, self.refusal = False, f"{type(error).__name__} ({error.description or error})"
        await self._create(self._initial_topics)

    async def send_all(self, messages: Sequence[Message]) -> None:
        """Send in order and wait until all are acknowledged (raises if any is not)."""
        producer = self._producer
        assert producer is not None, "start() first"
        await self._create({m.topic for m in messages})
        acks = [await producer.send(m.topic, value=m.value, key=m.key, headers=list(m.headers)) for m in messages]
        await asyncio.gather(*acks)

    async def close(self) -> None:
        """Stop the producer, waiting at most five seconds; errors are swallowed (the broker may be gone)."""
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._producer.stop(), 5)

    async def _started(self, idempotent: bool) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=idempotent, compression_type="gzip",
            linger_ms=5, request_timeout_ms=self.request_timeout_ms, client_id=self.client_id,
        )
        try:
            await producer.start()
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 5)  # a half-started producer holds connections
            raise
        return producer

    async def _create(self, topics: Iterable[str]) -> None:
        missing = sorted(set(topics) - self._created)
        if not missing:
            return
        outcome = await create_missing(
            self.bootstrap, missing, partitions=self.partitions, replication_factor=self.replication_factor,
            request_timeout_ms=self.request_timeout_ms, client_id=self.client_id)
        for topic, refused in outcome.items():
            if refused:  # publishing goes on: the topic may exist, or the cluster create it on first use
                log.warning("could not create Kafka topic %s with %d partitions: %s", topic, self.partitions, refused)
            else:
                await self._check_partitions(topic)
        self._created.update(missing)

    async def _check_partitions(self, topic: str) -> None:
        assert self._producer is not None
        found: Any = await self._producer.partitions_for(topic)
        if found and len(found) != self.partitions:
            log.warning("Kafka topic %s has %d partitions, not the %d configured: left as it is", topic, len(found),
                        self.partitions)
