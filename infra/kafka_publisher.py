"""Publishing to Kafka with aiokafka: batches sent with acks=all and awaited as a whole."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer


@dataclass(frozen=True)
class Message:
    """One record: its topic, key, value and headers."""

    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


class KafkaPublisher:
    """A started producer; `send_all` returns once the broker acknowledged every message."""

    def __init__(self, bootstrap: str, *, idempotent: bool, request_timeout_ms: int, client_id: str) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            enable_idempotence=idempotent,
            compression_type="gzip",
            linger_ms=5,
            request_timeout_ms=request_timeout_ms,
            client_id=client_id,
        )

    async def start(self) -> None:
        """Connect to the cluster (raises while no broker answers)."""
        await self._producer.start()

    async def send_all(self, messages: Sequence[Message]) -> None:
        """Send in order and wait until all are acknowledged (raises if any is not)."""
        acks = [
            await self._producer.send(m.topic, value=m.value, key=m.key, headers=list(m.headers)) for m in messages
        ]
        await asyncio.gather(*acks)

    async def close(self) -> None:
        """Stop the producer, waiting at most five seconds; errors are swallowed (the broker may be gone)."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._producer.stop(), 5)
