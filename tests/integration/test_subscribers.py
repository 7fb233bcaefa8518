"""Downstream subscribers as they run: a two-member confluent-kafka consumer group on the
relay's partitioned topics, through a rebalance and a broker killed with SIGKILL.

The service runs whole (its HTTP stack, projections and relay) on a real database and the
embedded broker; writes go through HTTP while the group reads. What the group processed is
checked against the global feed (`GET /api/v1/events`, every stored event's CloudEvent id),
per aggregate by `streamversion`, and message by message against the JSON Schema served at
`/api/schemas/events/{type}`. Repeats are dropped by CloudEvent id; there are at most one
relay batch of them.
"""

from __future__ import annotations

import asyncio
import contextlib

import jsonschema

from infra.kafka_broker import EmbeddedBroker, free_port
from tests.polling import until
from tests.subscribers import PARTITIONS, Ledger, Member, Service, object_store, partitions_by_topic, service

BATCH = 40  # the relay's batch: small, so that the bound on repeats means something


async def everything_processed(svc: Service, ledger: Ledger, within: float = 120) -> list[str]:
    """Wait until the group processed every event of the feed; the feed's ids."""
    return await svc.seen_by(ledger.ids, within)


async def check(svc: Service, ledger: Ledger, feed: list[str]) -> None:
    """Each event once after dropping repeats, in order per aggregate, on one partition per key, valid."""
    assert set(ledger.processed) == set(feed)
    assert ledger.out_of_order == []
    partitions: dict[str, set[tuple[str, int]]] = {}
    for delivery in ledger.deliveries:
        assert delivery.key == delivery.event["subject"]
        partitions.setdefault(delivery.key, set()).add((delivery.topic, delivery.partition))
        jsonschema.validate(delivery.event, await svc.schema(delivery.event["type"]))
    assert all(len(found) == 1 for found in partitions.values())  # a key stays on its partition
    assert len({p for found in partitions.values() for p in found}) > PARTITIONS  # spread over several


async def test_a_two_member_group_reads_every_event_once_in_order_each_valid(settings):
    broker = EmbeddedBroker()
    await broker.start()
    ledger = Ledger()
    try:
        async with service(settings, broker, batch=BATCH) as svc:
            topics = svc.relay.topics()
            members = [Member(name, broker.bootstrap, "readers", topics, ledger).start() for name in ("a", "b")]
            try:
                await svc.write(30)
                feed = await everything_processed(svc, ledger)
                assert await asyncio.to_thread(partitions_by_topic, broker.bootstrap, topics) == {
                    topic: PARTITIONS for topic in topics}
                assert all(m.assigned for m in members)  # both took part: the partitions were shared
                assert not members[0].assigned & members[1].assigned
            finally:
                for member in members:
                    await member.stop()
            await check(svc, ledger, feed)
        assert sum(ledger.repeats.values()) == 0  # nothing failed, so nothing came twice
    finally:
        await broker.stop()


async def test_through_a_rebalance_and_a_broker_kill_every_event_arrives_once_after_dedupe(settings):
    async with object_store() as s3:
        port = free_port()
        broker = EmbeddedBroker(port, storage="s3://tansu/", env=s3.env)
        await broker.start()
        ledger = Ledger()
        try:
            async with service(settings, broker, batch=BATCH) as svc:
                topics = svc.relay.topics()
                a = Member("a", broker.bootstrap, "readers", topics, ledger).start()
                b = Member("b", broker.bootstrap, "readers", topics, ledger).start()
                members = [a, b]
                try:
                    await svc.write(10)
                    await until(lambda: a.assigned and b.assigned and len(ledger.processed) > 20, within=120)
                    b_held = b.assigned

                    # A member stops mid-stream: the other takes its partitions over.
                    writing = asyncio.create_task(svc.write(15))
                    await b.stop()
                    await until(lambda: len(a.assigned) == len(topics) * PARTITIONS, within=120)
                    await writing
                    taken_over = len(ledger.deliveries)

                    async def read_from_bs_partitions() -> bool:
                        await svc.write(3)  # new processes land on every partition sooner or later
                        return any(d.member == "a" and (d.topic, d.partition) in b_held
                                   for d in ledger.deliveries[taken_over:])

                    await until(read_from_bs_partitions, within=120)

                    # The broker dies (SIGKILL) while the relay publishes, and comes back on its storage.
                    before, published = svc.writes, svc.relay.published_to
                    writing = asyncio.create_task(svc.write(15))
                    await until(lambda: svc.writes > before + 3 and svc.relay.published_to > published)
                    await broker.kill()
                    await until(lambda: svc.relay.failures > 0)  # the relay saw it
                    await writing
                    broker = EmbeddedBroker(port, storage="s3://tansu/", env=s3.env)
                    await broker.start()

                    # The stopped member comes back and resumes from the group's committed offsets.
                    b = Member("b", broker.bootstrap, "readers", topics, ledger).start()
                    members.append(b)
                    await svc.write(10)
                    feed = await everything_processed(svc, ledger, within=180)
                    await until(lambda: a.assigned and b.assigned, within=120)
                finally:
                    for member in members:
                        with contextlib.suppress(AssertionError):
                            await member.stop()
                await check(svc, ledger, feed)
            assert sum(ledger.repeats.values()) <= BATCH
        finally:
            await broker.stop()
