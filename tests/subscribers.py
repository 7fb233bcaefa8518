"""Downstream subscribers for the tests: confluent-kafka consumer group members, their shared
ledger, and an S3 endpoint (moto) that keeps the embedded broker's data across a kill -9.

confluent-kafka (librdkafka) is the client most downstream services use, and not the library
the relay produces with, so what these members read is what an independent subscriber reads.
Its calls block, so each member polls in a thread of its own; the test's event loop only looks
at what they recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp.test_utils import TestClient, TestServer
from confluent_kafka import Consumer, TopicPartition

from infra.kafka_broker import EmbeddedBroker, free_port
from infra.settings import Settings
from services.app import create_app
from services.http.app_keys import RUNTIME, WORKERS
from tests.polling import until

BUCKET = "tansu"
PARTITIONS = 3
FORM = {"title": "Ms", "firstName": "Ada", "middleName": "", "surname": "Lovelace"}


@dataclass(frozen=True)
class Delivery:
    """One message as a member received it."""

    member: str
    topic: str
    partition: int
    offset: int
    key: str
    event: dict[str, Any]


@dataclass
class Ledger:
    """What the group has processed, shared by its members like a subscriber's own database.

    A message whose CloudEvent `id` was processed already is a repeat and dropped; a new one
    must be its aggregate's next `streamversion`, else it is out of order (noted, for the test).
    """

    deliveries: list[Delivery] = field(default_factory=list)
    processed: dict[str, Delivery] = field(default_factory=dict)  # by CloudEvent id, in processing order
    repeats: Counter[str] = field(default_factory=Counter)
    out_of_order: list[tuple[str, int, int]] = field(default_factory=list)  # subject, expected, got
    _last: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def accept(self, delivery: Delivery) -> None:
        event = delivery.event
        with self._lock:
            self.deliveries.append(delivery)
            if event["id"] in self.processed:
                self.repeats[event["id"]] += 1
                return
            subject, version = event["subject"], event["streamversion"]
            if version != self._last[subject] + 1:
                self.out_of_order.append((subject, self._last[subject] + 1, version))
            self._last[subject] = max(self._last[subject], version)
            self.processed[event["id"]] = delivery

    def ids(self) -> set[str]:
        with self._lock:
            return set(self.processed)


class Member:
    """One member of a consumer group, polling in its own thread until `stop()`.

    Offsets are stored only after the ledger took a message and committed every 100 ms (and
    on leaving), the at-least-once pattern librdkafka documents.
    """

    def __init__(self, name: str, bootstrap: str, group: str, topics: Iterable[str], ledger: Ledger) -> None:
        self.name = name
        self.ledger = ledger
        self.assignments: list[set[tuple[str, int]]] = []  # each assignment, as librdkafka reported it
        self.errors: list[str] = []
        self._config = {
            "bootstrap.servers": bootstrap, "group.id": group, "client.id": name,
            "auto.offset.reset": "earliest", "enable.auto.offset.store": False, "auto.commit.interval.ms": 100,
            # Short group timings keep the test short: the embedded broker answers a first join
            # after about half the session timeout.
            "session.timeout.ms": 6000, "heartbeat.interval.ms": 500, "topic.metadata.refresh.interval.ms": 1000,
            "reconnect.backoff.max.ms": 1000, "log_level": 3,
        }
        self._topics = list(topics)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"member-{name}", daemon=True)

    def start(self) -> Member:
        self._thread.start()
        return self

    @property
    def assigned(self) -> set[tuple[str, int]]:
        """The partitions it holds now."""
        return self.assignments[-1] if self.assignments else set()

    async def stop(self) -> None:
        """Leave the group (its stored offsets are committed first), as a stopping service does."""
        self._stopping.set()
        await asyncio.to_thread(self._thread.join, 60)
        assert not self._thread.is_alive(), f"member {self.name} did not stop"

    def _run(self) -> None:
        consumer = Consumer(self._config)

        def assigned(_: Consumer, partitions: list[TopicPartition]) -> None:
            self.assignments.append({(p.topic, p.partition) for p in partitions})

        def revoked(_: Consumer, partitions: list[TopicPartition]) -> None:
            self.assignments.append(set())

        consumer.subscribe(self._topics, on_assign=assigned, on_revoke=revoked)
        try:
            while not self._stopping.is_set():
                message = consumer.poll(0.2)
                if message is None:
                    continue
                if message.error():
                    self.errors.append(str(message.error()))  # transient: the client reconnects by itself
                    continue
                self.ledger.accept(Delivery(self.name, message.topic(), message.partition(), message.offset(),
                                            message.key().decode(), orjson.loads(message.value())))
                consumer.store_offsets(message)
        finally:
            consumer.close()


def partitions_by_topic(bootstrap: str, topics: Iterable[str]) -> dict[str, int]:
    """How many partitions each topic has, as a librdkafka client sees them (blocking: use a thread)."""
    from confluent_kafka.admin import AdminClient

    found = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
    return {t: len(found[t].partitions) for t in topics if t in found}


class ObjectStore:
    """An S3 endpoint (moto's server, its own process) for the broker's `s3://` storage.

    Storage that lives outside the broker is what lets a broker killed with SIGKILL come back
    with its topics, records, groups and committed offsets, as Tansu on S3 does in production.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {"AWS_ENDPOINT": self.url, "AWS_ALLOW_HTTP": "true", "AWS_ACCESS_KEY_ID": "test",
                    "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        async with aiohttp.ClientSession() as session:

            async def bucket_made() -> bool:  # once the server answers
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.put(f"{self.url}/{BUCKET}") as response:
                        return response.status == 200
                return False

            await until(bucket_made, within=60, every=0.1)

    async def stop(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            await self._process.wait()


@contextlib.asynccontextmanager
async def object_store() -> AsyncIterator[ObjectStore]:
    store = ObjectStore()
    try:
        await store.start()
        yield store
    finally:
        await store.stop()


class Service:
    """The service with an admin token, and what a subscriber checks against."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}
        self.schemas: dict[str, Any] = {}
        self.writes = 0

    @property
    def relay(self):
        return self.client.app[WORKERS].relay

    async def write(self, count: int) -> None:
        """`count` rounds of writes through HTTP: new configuration versions and application processes."""
        for _ in range(count):
            n, self.writes = self.writes, self.writes + 1
            r = await self.client.post("/api/process/v1", headers=self.headers,
                                       json={"name": f"sub-{n % 7}", "script": "echo-params", "description": f"{n}"})
            assert r.status in (200, 201), await r.text()
            if n % 3 == 0:  # an instance too: created, started, its form submitted
                r = await self.client.post("/api/v1/process/example-application", headers=self.headers,
                                           json={"targetId": f"t-{n}", "formData": FORM})
                assert r.status == 201, await r.text()

    async def feed_ids(self) -> list[str]:
        """Every stored event's CloudEvent id, from the global feed, in log order."""
        ids: list[str] = []
        while True:
            r = await self.client.get(f"/api/v1/events?after={len(ids)}&limit=1000", headers=self.headers)
            assert r.status == 200
            page = [orjson.loads(line) for line in (await r.read()).splitlines()]
            if not page:
                return ids
            ids += [line["id"] for line in page]

    async def seen_by(self, seen: Callable[[], set[str]], within: float) -> list[str]:
        """Wait until `seen()` holds every event of the feed; the feed's ids."""
        async def done() -> list[str] | None:
            ids = await self.feed_ids()
            return ids if set(ids) <= seen() else None

        return await until(done, within=within, every=0.2)

    async def schema(self, cloudevent_type: str) -> Any:
        if cloudevent_type not in self.schemas:
            r = await self.client.get(f"/api/schemas/events/{cloudevent_type}")
            assert r.status == 200, cloudevent_type
            self.schemas[cloudevent_type] = await r.json()
        return self.schemas[cloudevent_type]


@contextlib.asynccontextmanager
async def service(settings: Settings, broker: EmbeddedBroker | None, *, batch: int = 500) -> AsyncIterator[Service]:
    """The whole service on the test's database, publishing to `broker` (if any) with PARTITIONS partitions."""
    kafka = settings.model_copy(update={"kafka_bootstrap_servers": broker and broker.bootstrap,
                                        "kafka_partitions": PARTITIONS, "kafka_batch": batch,
                                        "ready_relay_failure_seconds": 3600})
    client = TestClient(TestServer(create_app(kafka)))
    await client.start_server()
    try:
        yield Service(client, await client.app[RUNTIME].tokens.create("subscriber", "admin"))
    finally:
        await client.close()
