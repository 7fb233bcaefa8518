"""Chaos: three `procession serve` processes on one database and one broker; the lease holder is killed.

A client spreads configuration writes, Altinn lifecycles and script runs over the three
processes while a per-second cron schedule fires. Midway, the process holding the leases
(the Kafka relay's, and the scheduler's if it has it) is killed with SIGKILL, then started
again. Afterwards: every acknowledged command is in the store, every event reached Kafka
(repeats at most one relay batch), each cron fire time started one run, no run is left
running, the leases were taken over within a lease time of their expiry, and every read
model equals a rebuild from the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

import aiohttp
import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer

from infra.event_store import EventStore
from infra.kafka_broker import EmbeddedBroker, free_port
from infra.postgres import create_pool
from infra.projection_runner import ProjectionRunner
from infra.transcoder import create_mapper
from services.bootstrap import PROJECTIONS
from services.publishing.cloudevents import event_id, topic_for

CLI = str(Path(sys.executable).with_name("procession"))
LEASE = 3.0  # seconds: singleton and script-claim leases, short to keep the test short
RELAY_BATCH = 500
PARTY = "347829"
LINEAR = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D">
  <bpmn:process id="P" isExecutable="false">
    <bpmn:startEvent id="StartEvent"/>
    <bpmn:sequenceFlow id="F1" sourceRef="StartEvent" targetRef="Task1"/>
    <bpmn:task id="Task1"/>
    <bpmn:sequenceFlow id="F2" sourceRef="Task1" targetRef="Task2"/>
    <bpmn:task id="Task2"/>
    <bpmn:sequenceFlow id="F3" sourceRef="Task2" targetRef="EndEvent"/>
    <bpmn:endEvent id="EndEvent"/>
  </bpmn:process>
</bpmn:definitions>"""


@dataclass
class Acknowledged:
    """What the service answered with success, to look for in the store afterwards."""

    descriptions: set[str] = field(default_factory=set)
    instance_steps: dict[str, list[str]] = field(default_factory=dict)  # guid -> acknowledged steps
    script_runs: set[str] = field(default_factory=set)


class Cluster:
    """Three service processes, each on its own port, one database, one broker."""

    def __init__(self, env: dict[str, str], size: int = 3) -> None:
        self.env = env
        self.ports = [free_port() for _ in range(size)]
        self.processes: list[asyncio.subprocess.Process | None] = [None] * size

    def url(self, n: int) -> str:
        return f"http://127.0.0.1:{self.ports[n]}"

    async def start(self, n: int) -> None:
        self.processes[n] = await asyncio.create_subprocess_exec(
            CLI, "serve", "--port", str(self.ports[n]), env=self.env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
        async with aiohttp.ClientSession() as session, asyncio.timeout(60):
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"{self.url(n)}/healthz") as r:
                        if r.status == 200:
                            return
                await asyncio.sleep(0.2)

    def index_of(self, pid: int) -> int:
        return next(n for n, p in enumerate(self.processes) if p is not None and p.pid == pid)

    async def stop(self) -> None:
        for process in self.processes:
            if process is not None and process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            if process is not None:
                async with asyncio.timeout(60):
                    await process.wait()


async def client(cluster: Cluster, headers: dict[str, str], acked: Acknowledged, stop: asyncio.Event, seed: int) -> None:
    """One client: commands of every kind, each step sent to the next process in turn."""
    turn = itertools.count(seed)
    numbers = itertools.count()
    timeout = aiohttp.ClientTimeout(total=15)

    def base() -> str:
        return cluster.url(next(turn) % len(cluster.ports))

    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as http:
        while not stop.is_set():
            n = next(numbers)
            try:
                if n % 3 == 0:
                    description = f"c{seed}-{n}"
                    body = {"_id": f"cfg-{seed}", "script": "echo-params", "description": description}
                    async with http.post(f"{base()}/api/process/v1", json=body) as r:
                        if r.status == 201:
                            acked.descriptions.add(description)
                elif n % 3 == 1:
                    async with http.post(f"{base()}/apps/linear/api/v1/instances",
                                         params={"instanceOwnerPartyId": PARTY}) as r:
                        if r.status != 201:
                            continue
                        guid = (await r.json())["id"].split("/")[1]
                    steps = acked.instance_steps.setdefault(guid, ["create"])
                    path = f"/apps/linear/api/v1/instances/{PARTY}/{guid}/process"
                    for method, step in (("POST", "start"), ("PUT", "next"), ("PUT", "next")):
                        async with http.request(method, f"{base()}{path}/{step}") as r:
                            if r.status != 200:
                                break
                        steps.append(step)
                else:
                    form = aiohttp.FormData(default_to_multipart=True)
                    form.add_field("properties", json.dumps([{"name": "-m", "value": f"run {n}"}]))
                    async with http.post(f"{base()}/api/system/scripts/echo-params/processes", data=form) as r:
                        if r.status == 202:
                            acked.script_runs.add((await r.json())["processId"])
            except (aiohttp.ClientError, asyncio.TimeoutError):
                await asyncio.sleep(0.05)  # that process is down: the next step goes to another


async def leases(conn: asyncpg.Connection) -> dict[str, asyncpg.Record]:
    rows = await conn.fetch("SELECT name, holder, expires_at FROM procession_leases WHERE expires_at > clock_timestamp()")
    return {r["name"]: r for r in rows}


def pid_of(holder: str) -> int:
    return int(holder.split(":")[2])  # name:host:pid:random


async def table_rows(pool: asyncpg.Pool) -> dict[str, list[tuple]]:
    """Every row of every read model, in a stable order."""
    snapshot = {}
    for projection in PROJECTIONS:
        for table in projection.tables:
            rows = await pool.fetch(f"SELECT * FROM {table}")
            snapshot[table] = sorted((tuple(orjson.dumps(v, default=str) for v in r.values()) for r in rows))
    return snapshot


async def consume_ids(bootstrap: str, topics: set[str], expected: int) -> list[str]:
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, metadata_max_age_ms=500)
    await consumer.start()
    ids: list[str] = []
    try:
        async with asyncio.timeout(60):
            quiet = 0
            while len(ids) < expected or quiet < 2:
                batch = await consumer.getmany(timeout_ms=500)
                quiet = 0 if batch else quiet + 1
                ids += [orjson.loads(m.value)["id"] for messages in batch.values() for m in messages]
    except TimeoutError:
        pass
    finally:
        await consumer.stop()
    return ids


async def test_killing_the_lease_holder_loses_nothing(database_url: str, tmp_path: Path) -> None:
    broker = EmbeddedBroker()
    await broker.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROCESSION_")}
    env.update(
        DATABASE_URL=database_url, PROCESSION_DATA_DIR=str(tmp_path), PROCESSION_LOG_REQUESTS="false",
        KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap, PROCESSION_KAFKA_IDEMPOTENT="false",
        PROCESSION_SINGLETON_LEASE_SECONDS=str(LEASE), PROCESSION_SCRIPT_LEASE_SECONDS=str(LEASE),
        PROCESSION_SCHEDULER_POLL_SECONDS="0.3",
    )
    token = await asyncio.create_subprocess_exec(CLI, "token", "create", "--user", "chaos", "--role", "admin",
                                                 env=env, stdout=asyncio.subprocess.PIPE)
    headers = {"Authorization": f"Bearer {(await token.communicate())[0].decode().split()[-1]}"}
    cluster = Cluster(env)
    conn = await asyncpg.connect(database_url)
    acked, stop = Acknowledged(), asyncio.Event()
    try:
        await asyncio.gather(*(cluster.start(n) for n in range(3)))
        async with aiohttp.ClientSession(headers=headers) as http:
            for body in ({"_id": "linear", "workflow": LINEAR},
                         {"_id": "ticker", "script": "echo-params", "input": {"message": "tick"}, "cron": "* * * * * ?"}):
                async with http.post(f"{cluster.url(0)}/api/process/v1", json=body) as r:
                    assert r.status == 201, await r.text()
        clients = [asyncio.create_task(client(cluster, headers, acked, stop, seed)) for seed in range(6)]

        # Midway: kill the process holding the relay's lease (the one that publishes).
        async with asyncio.timeout(30):
            while "kafka-relay" not in (held := await leases(conn)) or len(acked.script_runs) < 5:
                await asyncio.sleep(0.2)
        victim = pid_of(held["kafka-relay"]["holder"])
        lost = {name: row for name, row in held.items() if pid_of(row["holder"]) == victim}
        victim_index = cluster.index_of(victim)
        cluster.processes[victim_index].kill()
        await cluster.processes[victim_index].wait()

        # Every lease it held is taken over by another process.
        async with asyncio.timeout(30):
            while True:
                now = await leases(conn)
                if all(name in now and pid_of(now[name]["holder"]) != victim for name in lost):
                    break
                await asyncio.sleep(0.1)
        for name, old in lost.items():
            taken_at = now[name]["expires_at"].timestamp() - LEASE  # when the new holder took it
            # Taken within a lease time of the old lease running out (holders try every third of it).
            assert taken_at <= old["expires_at"].timestamp() + LEASE, name

        await cluster.start(victim_index)
        await asyncio.sleep(4)
        stop.set()
        await asyncio.gather(*clients)

        # Quiesce: no more cron fires; every run over; the relay has published everything.
        async with aiohttp.ClientSession(headers=headers) as http:
            body = {"_id": "ticker", "script": "echo-params", "input": {"message": "tick"}, "cron": "* * * * * ?",
                    "enabled": False}
            async with http.post(f"{cluster.url(0)}/api/process/v1", json=body) as r:
                assert r.status == 201
        async with asyncio.timeout(40):
            while await conn.fetchval(
                "SELECT count(*) FROM process_view WHERE script IS NOT NULL"
                " AND status NOT IN ('completed', 'failed', 'stopped')"
            ) or await conn.fetchval(
                "SELECT coalesce((SELECT position FROM procession_tracking WHERE name = 'kafka-relay'), 0)"
                " < (SELECT max(notification_id) FROM procession_events)"
            ):
                await asyncio.sleep(0.2)
        await cluster.stop()
    finally:
        stop.set()
        await cluster.stop()

    print(f"\nchaos: killed pid {victim} holding {sorted(lost)}; acknowledged {len(acked.descriptions)} writes,"
          f" {len(acked.instance_steps)} instances, {len(acked.script_runs)} script runs")
    assert acked.descriptions and acked.instance_steps and acked.script_runs
    try:
        # No acknowledged command lost.
        states = [bytes(r[0]) for r in await conn.fetch(
            "SELECT state FROM procession_events WHERE topic LIKE '%VersionCreated'")]
        assert all(any(f'"{d}"'.encode() in s for s in states) for d in acked.descriptions)
        for guid, steps in acked.instance_steps.items():
            topics = Counter(t.rsplit(".", 1)[-1] for t in await conn.fetchval(
                "SELECT array_agg(topic) FROM procession_events WHERE originator_id = $1", UUID(guid)) or [])
            assert topics["Created"] == 1 and topics["Started"] >= steps.count("start"), (guid, steps, topics)
            assert topics["TaskEnded"] >= steps.count("next"), (guid, steps, topics)
        runs = {str(r[0]): r[1] for r in await conn.fetch(
            "SELECT instance_id, status FROM process_view WHERE script IS NOT NULL")}
        assert acked.script_runs <= set(runs)
        # No run left RUNNING; no script task left open.
        assert set(runs.values()) <= {"completed", "failed"}
        assert await conn.fetchval("SELECT count(*) FROM script_task_view WHERE open") == 0

        # Every cron fire time started exactly one run.
        fires = [r[0] for r in await conn.fetch(
            "SELECT i.state FROM process_view p JOIN procession_events i ON i.originator_id = p.instance_id"
            " AND i.originator_version = 1 WHERE p.definition_key = 'ticker'")]
        stamps = [orjson.loads(bytes(s))["attributes"]["cronFire"] for s in fires]
        assert len(stamps) >= 2 and len(stamps) == len(set(stamps))
        print(f"chaos: {len(stamps)} cron fires, {len(runs)} script runs ({Counter(runs.values())})")

        # Every event reached Kafka; repeats at most one relay batch.
        pool = await create_pool(database_url, size=4)
        try:
            store = EventStore(pool, create_mapper())
            events = await store.read_after(0, 1_000_000)
            ids = await consume_ids(broker.bootstrap, {topic_for("procession", e) for e in events}, len(events))
            assert {event_id(e.originator_id, e.originator_version) for e in events} <= set(ids)
            assert len(ids) - len(set(ids)) <= RELAY_BATCH
            print(f"chaos: {len(events)} events, {len(ids)} messages ({len(ids) - len(set(ids))} repeats)")

            # Every read model equals a rebuild from the log.
            before = await table_rows(pool)
            await ProjectionRunner(store, PROJECTIONS).rebuild_all()
            assert await table_rows(pool) == before
        finally:
            await pool.close()
    finally:
        await conn.close()
        await broker.stop()
