"""The Kafka relay against a real broker (the embedded Tansu)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator
from uuid import uuid4

import jsonschema
import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from contracts.published import PUBLISHED, event_schema
from events.definition import ProcessDefinition
from events.instance import ProcessInstance
from events.workflow import compile_workflow
from infra.event_store import EventStore
from infra.kafka_broker import EmbeddedBroker, free_port
from infra.postgres import create_pool
from infra.transcoder import create_mapper
from services.definitions.examples import EXAMPLE_APPLICATION
from services.publishing.relay import KafkaRelay
from tests.polling import until
from tests.subscribers import partitions_by_topic

TOPICS = ("procession.ProcessDefinition", "procession.ProcessInstance")


@pytest.fixture
async def event_store(pool) -> AsyncIterator[EventStore]:
    store = EventStore(pool, create_mapper())
    await store.start()
    yield store
    await store.stop()


@pytest.fixture
async def broker() -> AsyncIterator[EmbeddedBroker]:
    b = EmbeddedBroker()
    await b.start()
    yield b
    await b.stop()


@contextlib.asynccontextmanager
async def running(relay: KafkaRelay) -> AsyncIterator[KafkaRelay]:
    task = asyncio.create_task(relay.run())
    try:
        yield relay
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def consume(bootstrap: str, count: int, *, timeout: float = 60) -> list[dict]:
    """Read messages from the start of the topics until `count` arrived (or time ran out)."""
    consumer = AIOKafkaConsumer(*TOPICS, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, metadata_max_age_ms=500)
    await consumer.start()
    messages: list[dict] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(messages) < count and asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                messages += [orjson.loads(r.value) | {"_key": r.key.decode()} for r in records]
    finally:
        await consumer.stop()
    return messages


async def write_history(store: EventStore, definitions: int, versions: int) -> int:
    """Definitions with several versions each; returns how many events were stored."""
    for i in range(definitions):
        definition = ProcessDefinition.register(f"P{i}", {"script": "s", "description": "0"}, "alice")
        await store.append(definition.collect_events())
        for v in range(1, versions):
            definition.add_version({"script": "s", "description": str(v)}, "alice")
            await store.append(definition.collect_events())
    return definitions * (versions + 1)


async def test_every_event_arrives_once_in_order_per_aggregate(event_store, broker):
    total = await write_history(event_store, definitions=6, versions=4)
    async with running(KafkaRelay(event_store, bootstrap=broker.bootstrap, idempotent=False, batch=7)):
        messages = await consume(broker.bootstrap, total)
    assert len(messages) == total
    by_subject = defaultdict(list)
    for message in messages:
        assert message["_key"] == message["subject"]
        by_subject[message["subject"]].append(message["streamversion"])
    assert all(versions == list(range(1, 6)) for versions in by_subject.values())
    assert len({m["id"] for m in messages}) == total


async def test_published_messages_validate_against_the_served_schemas(event_store, broker):
    total = await write_history(event_store, definitions=2, versions=2)
    async with running(KafkaRelay(event_store, bootstrap=broker.bootstrap, idempotent=False)):
        messages = await consume(broker.bootstrap, total)
    assert len(messages) == total
    for message in messages:
        message.pop("_key")
        name = message["type"].removeprefix("procession.")
        assert name in PUBLISHED
        jsonschema.validate(message, event_schema(name))


def an_instance_history() -> list:
    """An application through the example state machine, touching most instance event types."""
    graph = compile_workflow(EXAMPLE_APPLICATION)
    instance = ProcessInstance(
        definition_id=str(uuid4()), definition_key="example-application", definition_version=1, initiator="alice",
        owner="alice", target_id="t-1", parameters={}, form_data={}, documents=[], assignment={}, attributes={},
    )
    instance.start(graph, None, "alice")
    instance.submit({"name": "Ada"}, "alice")
    instance.assign({"type": "patch", "value": "north"}, "alice")
    instance.fire(graph, "AttachDocuments", "alice")
    instance.attach(["doc-1"], "alice")
    instance.append_output("a line")
    instance.attach_file("report.txt", 3, "text/plain", "0" * 64)
    instance.fire(graph, "SubmitApplication", "alice")
    return instance.collect_events()


async def test_instance_events_validate_against_their_schemas_too(event_store, broker):
    events = an_instance_history()
    await event_store.append(events)
    async with running(KafkaRelay(event_store, bootstrap=broker.bootstrap, idempotent=False)):
        messages = await consume(broker.bootstrap, len(events))
    assert [m["streamversion"] for m in messages] == list(range(1, len(events) + 1))
    for message in messages:
        message.pop("_key")
        jsonschema.validate(message, event_schema(message["type"].removeprefix("procession.")))


async def test_a_relay_that_dies_mid_batch_repeats_at_most_that_batch(event_store, broker):
    total = await write_history(event_store, definitions=5, versions=2)
    crashed = KafkaRelay(event_store, bootstrap=broker.bootstrap, idempotent=False, batch=4)
    assert await crashed.lease.acquire()
    publisher = crashed.publisher()
    await publisher.start()
    batch = await event_store.read_after(0, 4)
    await crashed.send(publisher, batch)  # acknowledged by the broker, then the process "dies"
    await publisher.close()
    await crashed.lease.release()  # a dead process's lease would expire; releasing just saves time

    async with running(KafkaRelay(event_store, bootstrap=broker.bootstrap, idempotent=False, batch=4)):
        messages = await consume(broker.bootstrap, total + len(batch))
    ids = [m["id"] for m in messages]
    assert len(set(ids)) == total  # nothing missing
    assert len(ids) - len(set(ids)) <= len(batch)  # duplicates: at most the interrupted batch


async def test_the_relay_catches_up_after_a_broker_outage(event_store):
    port = free_port()
    broker = EmbeddedBroker(port)
    await broker.start()
    try:
        relay = KafkaRelay(event_store, bootstrap=broker.bootstrap, idempotent=False, request_timeout_ms=1000)
        async with running(relay):
            first = await write_history(event_store, definitions=1, versions=1)
            assert len(await consume(broker.bootstrap, first)) == first
            await broker.stop()
            before = await event_store.max_position()
            definition = ProcessDefinition.register("AFTER", {"script": "s"}, "alice")
            await event_store.append(definition.collect_events())
            await until(lambda: relay.failures)  # the relay has seen the outage
            assert relay.failures > 0
            broker = EmbeddedBroker(port)  # memory storage: the restarted broker starts empty
            await broker.start()
            messages = await consume(broker.bootstrap, 2)
            last = await event_store.max_position()
            # The relay records its position after the broker's ack, so a consumer can see the
            # messages a moment before `published_to` moves.
            await until(lambda: relay.published_to >= last)
        assert {m["globalposition"] for m in messages} >= {before + 1, before + 2}
        assert relay.published_to == last
    finally:
        await broker.stop()


async def test_only_one_relay_publishes_at_a_time(event_store, broker, database_url):
    other_pool = await create_pool(database_url, size=4)
    other_store = EventStore(other_pool, create_mapper())
    await other_store.start()
    try:
        first = KafkaRelay(event_store, bootstrap=broker.bootstrap, idempotent=False)
        second = KafkaRelay(other_store, bootstrap=broker.bootstrap, idempotent=False)
        total = await write_history(event_store, definitions=3, versions=2)
        async with running(first), running(second):
            messages = await consume(broker.bootstrap, total)
            publishers = [r for r in (first, second) if r.published_to > 0]
        assert len(messages) == total
        assert len(publishers) == 1
    finally:
        await other_store.stop()
        await other_pool.close()


async def test_a_broker_that_refuses_a_producer_id_gets_plain_publishing_not_a_stall(event_store, broker, caplog):
    total = await write_history(event_store, definitions=2, versions=2)
    relay = KafkaRelay(event_store, bootstrap=broker.bootstrap, idempotent=True)  # Tansu refuses aiokafka's request
    async with running(relay):
        messages = await consume(broker.bootstrap, total)
    assert len(messages) == total
    assert relay.idempotence_refused and "UnknownError" in relay.idempotence_refused
    assert [r for r in caplog.records if "refused a producer id" in r.getMessage()][0].levelname == "WARNING"


async def test_topics_are_created_with_the_configured_partitions_and_existing_ones_left_alone(
        event_store, broker, caplog):
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    for future in admin.create_topics([NewTopic("procession.ProcessInstance", 2, 1)]).values():
        await asyncio.to_thread(future.result, 10)
    del admin  # librdkafka's client goes with its last reference (else it reconnects after the test)
    total = await write_history(event_store, definitions=4, versions=1)
    async with running(KafkaRelay(event_store, bootstrap=broker.bootstrap, idempotent=False, partitions=5)) as relay:
        await until(lambda: relay.published_to)  # before a consumer's metadata request could create a topic
        assert len(await consume(broker.bootstrap, total)) == total
        found = await asyncio.to_thread(partitions_by_topic, broker.bootstrap, relay.topics())
    assert found == {"procession.ProcessDefinition": 5, "procession.ProcessInstance": 2, "procession.ProcessKey": 5}
    assert any("procession.ProcessInstance has 2 partitions, not the 5 configured" in r.getMessage()
               for r in caplog.records)
