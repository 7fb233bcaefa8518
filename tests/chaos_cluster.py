"""Chaos machinery shared by the suite's chaos test and the chaos soak benchmark.

Three `procession serve` processes on one database and one broker, clients that spread
configuration writes, Altinn lifecycles and script runs over them (what the service
acknowledged is noted), a per-second cron schedule, and the checks made once the load has
stopped: nothing acknowledged lost, no run left unfinished, every event on Kafka, every read
model equal to a rebuild from the log (rebuilt in a scratch database, so the cluster may go on).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
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
from services.publishing.relay import NAME as RELAY

CLI = str(Path(sys.executable).with_name("procession"))
PARTY = "347829"
FINAL = ("completed", "failed", "stopped")
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


def ticker(*, enabled: bool) -> dict:
    """The per-second cron schedule (`enabled: false` stops it)."""
    return {"_id": "ticker", "script": "echo-params", "input": {"message": "tick"}, "cron": "* * * * * ?",
            "enabled": enabled}


def cluster_env(database_url: str, data_dir: Path, bootstrap: str, lease_seconds: float) -> dict[str, str]:
    """The environment of every `serve` of the cluster: short leases, a fast scheduler, Kafka."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROCESSION_")}
    env.update(
        DATABASE_URL=database_url, PROCESSION_DATA_DIR=str(data_dir), PROCESSION_LOG_REQUESTS="false",
        KAFKA_BOOTSTRAP_SERVERS=bootstrap, PROCESSION_KAFKA_IDEMPOTENT="false",
        PROCESSION_SINGLETON_LEASE_SECONDS=str(lease_seconds), PROCESSION_SCRIPT_LEASE_SECONDS=str(lease_seconds),
        PROCESSION_SCHEDULER_POLL_SECONDS="0.3",
    )
    return env


async def admin_headers(env: dict[str, str]) -> dict[str, str]:
    """An admin token made with the CLI, as request headers."""
    token = await asyncio.create_subprocess_exec(CLI, "token", "create", "--user", "chaos", "--role", "admin",
                                                 env=env, stdout=asyncio.subprocess.PIPE,
                                                 stderr=asyncio.subprocess.DEVNULL)
    return {"Authorization": f"Bearer {(await token.communicate())[0].decode().split()[-1]}"}


@dataclass
class Acknowledged:
    """What the service answered with success, to look for in the store afterwards."""

    descriptions: set[str] = field(default_factory=set)
    instance_steps: dict[str, list[str]] = field(default_factory=dict)  # guid -> acknowledged steps
    script_runs: set[str] = field(default_factory=set)

    def writes(self) -> int:
        """Every acknowledged command: configuration versions, lifecycle steps, script starts."""
        return len(self.descriptions) + sum(len(s) for s in self.instance_steps.values()) + len(self.script_runs)


class Cluster:
    """Service processes, each on its own port, one database, one broker; their logs in `logs`."""

    def __init__(self, env: dict[str, str], logs: Path, size: int = 3) -> None:
        self.env = env
        self.logs = logs
        self.ports = [free_port() for _ in range(size)]
        self.processes: list[asyncio.subprocess.Process | None] = [None] * size
        self.starts = 0
        logs.mkdir(parents=True, exist_ok=True)

    def url(self, n: int) -> str:
        return f"http://127.0.0.1:{self.ports[n]}"

    async def start(self, n: int) -> None:
        """Start process `n` and wait until it answers `/healthz` (fails if it exits first)."""
        self.starts += 1
        with open(self.logs / f"serve-{n}-{self.starts}.log", "ab") as log:
            process = self.processes[n] = await asyncio.create_subprocess_exec(
                CLI, "serve", "--port", str(self.ports[n]), env=self.env,
                stdout=asyncio.subprocess.DEVNULL, stderr=log,
            )
        async with aiohttp.ClientSession() as session, asyncio.timeout(90):
            while process.returncode is None:
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"{self.url(n)}/healthz") as r:
                        if r.status == 200:
                            return
                await asyncio.sleep(0.2)
        raise AssertionError(f"serve {n} exited with {process.returncode} while starting; see {self.logs}")

    def index_of(self, pid: int) -> int:
        return next(n for n, p in enumerate(self.processes) if p is not None and p.pid == pid)

    async def kill(self, n: int) -> None:
        """SIGKILL process `n` and reap it."""
        process = self.processes[n]
        assert process is not None
        process.kill()
        await process.wait()

    async def stop(self) -> None:
        """SIGTERM every process and wait for them (SIGKILL past a minute)."""
        for process in self.processes:
            if process is not None and process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            if process is not None:
                try:
                    async with asyncio.timeout(60):
                        await process.wait()
                except TimeoutError:
                    process.kill()
                    await process.wait()

    def problems(self) -> list[str]:
        """Error lines the processes logged (unhandled request errors, failed rounds), for a report."""
        lines = []
        for path in sorted(self.logs.glob("serve-*.log")):
            lines += [f"{path.name}: {line[:300]}" for line in path.read_text(errors="replace").splitlines()
                      if '"level":"error"' in line]
        return lines


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
                    form.add_field("properties", json.dumps([{"name": "-m", "value": f"run {seed}-{n}"}]))
                    async with http.post(f"{base()}/api/system/scripts/echo-params/processes", data=form) as r:
                        if r.status == 202:
                            acked.script_runs.add((await r.json())["processId"])
            except (aiohttp.ClientError, asyncio.TimeoutError):
                await asyncio.sleep(0.05)  # that process is down: the next step goes to another


class Load:
    """Clients running against the cluster until `stop()`."""

    def __init__(self, cluster: Cluster, headers: dict[str, str], acked: Acknowledged, clients: int = 6) -> None:
        self._stop = asyncio.Event()
        self._tasks = [asyncio.create_task(client(cluster, headers, acked, self._stop, seed)) for seed in range(clients)]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)


@dataclass
class Rig:
    """A started cluster and what the checks read it with."""

    cluster: Cluster
    headers: dict[str, str]
    conn: asyncpg.Connection
    pool: asyncpg.Pool
    tally: KafkaTally


@contextlib.asynccontextmanager
async def chaos_rig(database_url: str, workdir: Path, lease_seconds: float) -> AsyncIterator[Rig]:
    """A broker, three started `serve` processes on `database_url` and the `linear` BPMN app;
    everything stopped on leaving, also when the block fails."""
    async with contextlib.AsyncExitStack() as stack:
        broker = EmbeddedBroker()
        await broker.start()
        stack.push_async_callback(broker.stop)
        env = cluster_env(database_url, workdir / "data", broker.bootstrap, lease_seconds)
        headers = await admin_headers(env)
        conn = await asyncpg.connect(database_url)
        stack.push_async_callback(conn.close)
        pool = await create_pool(database_url, size=4)
        stack.push_async_callback(pool.close)
        tally = KafkaTally(broker.bootstrap)
        stack.push_async_callback(tally.close)
        cluster = Cluster(env, workdir / "logs")
        stack.push_async_callback(cluster.stop)
        await asyncio.gather(*(cluster.start(n) for n in range(3)))
        await deploy(cluster, headers, {"_id": "linear", "workflow": LINEAR})
        yield Rig(cluster, headers, conn, pool, tally)


@dataclass
class Kill:
    """One SIGKILL: whom, what it held (the lease rows then), and the leases once taken over."""

    pid: int
    index: int
    held: dict[str, asyncpg.Record]
    after: dict[str, asyncpg.Record]
    seconds: float  # from the kill until every lease it held had another holder


async def kill_holder(rig: Rig, name: str) -> Kill:
    """SIGKILL the holder of lease `name` (once it is held), wait until its leases are taken over,
    start it again."""
    async with asyncio.timeout(60):
        while name not in (now := await leases(rig.conn)):
            await asyncio.sleep(0.1)
    pid = pid_of(now[name]["holder"])
    held = {n: row for n, row in now.items() if pid_of(row["holder"]) == pid}
    index = rig.cluster.index_of(pid)
    killed = time.monotonic()
    await rig.cluster.kill(index)
    after = await taken_over(rig.conn, list(held), pid)
    seconds = time.monotonic() - killed
    await rig.cluster.start(index)
    return Kill(pid, index, held, after, seconds)


async def load_until(rig: Rig, acked: Acknowledged, *, runs: int, fires: int = 0, within: float = 90) -> None:
    """Wait until `runs` more script runs were acknowledged and the cron schedule fired `fires` more times."""
    runs += len(acked.script_runs)
    fires += len(await cron_fires(rig.conn))
    async with asyncio.timeout(within):
        while len(acked.script_runs) < runs or len(await cron_fires(rig.conn)) < fires:
            await asyncio.sleep(0.1)


async def deploy(cluster: Cluster, headers: dict[str, str], *bodies: dict) -> None:
    """Save configurations through process 0 (each must be a new version)."""
    async with aiohttp.ClientSession(headers=headers) as http:
        for body in bodies:
            async with http.post(f"{cluster.url(0)}/api/process/v1", json=body) as r:
                assert r.status == 201, await r.text()


async def leases(conn: asyncpg.Connection) -> dict[str, asyncpg.Record]:
    """The live leases by name."""
    rows = await conn.fetch("SELECT name, holder, expires_at FROM procession_leases WHERE expires_at > clock_timestamp()")
    return {r["name"]: r for r in rows}


def pid_of(holder: str) -> int:
    return int(holder.split(":")[2])  # name:host:pid:random


async def taken_over(conn: asyncpg.Connection, names: list[str], victim: int) -> dict[str, asyncpg.Record]:
    """Wait until another process holds every lease in `names`; the leases then."""
    async with asyncio.timeout(60):
        while True:
            now = await leases(conn)
            if all(name in now and pid_of(now[name]["holder"]) != victim for name in names):
                return now
            await asyncio.sleep(0.1)


async def unfinished_runs(conn: asyncpg.Connection) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM process_view WHERE script IS NOT NULL AND status <> ALL($1::text[])", list(FINAL))


async def followers_behind(conn: asyncpg.Connection) -> dict[str, int]:
    """How many events each follower of the log (the relay, every read model) has still to pass."""
    names = [RELAY, *(p.name for p in PROJECTIONS)]
    rows = await conn.fetch(
        "SELECT n, coalesce((SELECT max(notification_id) FROM procession_events), 0)"
        " - coalesce((SELECT position FROM procession_tracking WHERE name = n), 0)"
        " FROM unnest($1::text[]) AS n", names)
    return {r[0]: r[1] for r in rows if r[1] > 0}


async def quiesce(conn: asyncpg.Connection, within: float) -> bool:
    """Wait until every script run is over and every follower (the relay too) is at the log's end."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(within):
            while await unfinished_runs(conn) or await followers_behind(conn):
                await asyncio.sleep(0.2)
            return True
    return False


async def stuck_runs(conn: asyncpg.Connection) -> list[str]:
    """Each unfinished run with its events and claim, for the report of a failed quiesce."""
    lines = []
    for (iid,) in await conn.fetch(
            "SELECT instance_id FROM process_view WHERE script IS NOT NULL AND status <> ALL($1::text[])", list(FINAL)):
        topics = [r[0].rsplit(".", 1)[-1] for r in await conn.fetch(
            "SELECT topic FROM procession_events WHERE originator_id = $1 ORDER BY originator_version", iid)]
        claims = [dict(r) for r in await conn.fetch("SELECT * FROM script_run_claims WHERE instance_id = $1", iid)]
        lines.append(f"{iid}: {topics} claims={claims}")
    return lines


async def lost_writes(conn: asyncpg.Connection, acked: Acknowledged) -> list[str]:
    """The acknowledged commands the store does not hold."""
    lost = []
    states = [bytes(r[0]) for r in await conn.fetch(
        "SELECT state FROM procession_events WHERE topic LIKE '%VersionCreated'")]
    lost += [d for d in acked.descriptions if not any(f'"{d}"'.encode() in s for s in states)]
    for guid, steps in acked.instance_steps.items():
        topics = Counter(t.rsplit(".", 1)[-1] for t in await conn.fetchval(
            "SELECT array_agg(topic) FROM procession_events WHERE originator_id = $1", UUID(guid)) or [])
        if topics["Created"] != 1 or topics["Started"] < steps.count("start") or topics["TaskEnded"] < steps.count("next"):
            lost.append(f"{guid}: {steps} but {dict(topics)}")
    runs = {str(r[0]) for r in await conn.fetch("SELECT instance_id FROM process_view WHERE script IS NOT NULL")}
    lost += sorted(acked.script_runs - runs)
    return lost


async def run_statuses(conn: asyncpg.Connection) -> Counter[str]:
    return Counter(r[0] for r in await conn.fetch("SELECT status FROM process_view WHERE script IS NOT NULL"))


async def cron_fires(conn: asyncpg.Connection) -> list[str]:
    """The fire time of every run the cron schedule started (each must appear once)."""
    states = [r[0] for r in await conn.fetch(
        "SELECT i.state FROM process_view p JOIN procession_events i ON i.originator_id = p.instance_id"
        " AND i.originator_version = 1 WHERE p.definition_key = 'ticker'")]
    return [orjson.loads(bytes(s))["attributes"]["cronFire"] for s in states]


class KafkaTally:
    """Every CloudEvent id read from the relay's topics since the first `read`, repeats included."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.ids: list[str] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._topics: set[str] = set()

    async def read(self, topics: set[str], expected: set[str], within: float = 60) -> None:
        """Read on until every id in `expected` was seen and two polls in a row brought nothing."""
        if topics - self._topics:
            await self.close()
            self._topics |= topics
            self.ids.clear()  # a new subscription reads every topic from the start again
            self._consumer = AIOKafkaConsumer(*self._topics, bootstrap_servers=self.bootstrap,
                                              auto_offset_reset="earliest", enable_auto_commit=False,
                                              metadata_max_age_ms=500)
            await self._consumer.start()
        assert self._consumer is not None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                quiet = 0
                while not expected <= set(self.ids) or quiet < 2:
                    batch = await self._consumer.getmany(timeout_ms=500)
                    quiet = 0 if batch else quiet + 1
                    self.ids += [orjson.loads(m.value)["id"] for messages in batch.values() for m in messages]

    def repeats(self) -> int:
        return len(self.ids) - len(set(self.ids))

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None


async def kafka_check(pool: asyncpg.Pool, tally: KafkaTally) -> tuple[int, int, int]:
    """Read Kafka up to the log's end: (events in the log, ids missing on Kafka, repeated messages)."""
    store = EventStore(pool, create_mapper())
    events = await store.read_after(0, 10_000_000)
    expected = {event_id(e.originator_id, e.originator_version) for e in events}
    await tally.read({topic_for("procession", e) for e in events}, expected)
    return len(events), len(expected - set(tally.ids)), tally.repeats()


async def table_rows(pool: asyncpg.Pool) -> dict[str, list[tuple]]:
    """Every row of every read model, in a stable order."""
    snapshot = {}
    for projection in PROJECTIONS:
        for table in projection.tables:
            rows = await pool.fetch(f"SELECT * FROM {table}")
            snapshot[table] = sorted((tuple(orjson.dumps(v, default=str) for v in r.values()) for r in rows))
    return snapshot


async def read_models_match_rebuild(pool: asyncpg.Pool, scratch_url: str) -> list[str]:
    """Copy the log into an empty database (the schema only), rebuild every read model there, and
    compare with the live ones; the tables that differ. The live cluster is left as it is."""
    columns = ["notification_id", "originator_id", "originator_version", "topic", "state", "recorded_at", "hash"]
    rows = await pool.fetch(f"SELECT {', '.join(columns)} FROM procession_events ORDER BY notification_id")
    live = await table_rows(pool)
    if await pool.fetchval("SELECT coalesce(max(notification_id), 0) FROM procession_events") != (rows[-1][0] if rows else 0):
        return ["the log grew while it was copied: not quiesced"]
    scratch = await create_pool(scratch_url, size=4)
    try:
        await scratch.execute("TRUNCATE procession_events")  # the copy of an earlier round
        await scratch.copy_records_to_table("procession_events", records=[tuple(r) for r in rows], columns=columns)
        await ProjectionRunner(EventStore(scratch, create_mapper()), PROJECTIONS).rebuild_all()
        rebuilt = await table_rows(scratch)
    finally:
        await scratch.close()
    return [table for table in live if live[table] != rebuilt[table]]
