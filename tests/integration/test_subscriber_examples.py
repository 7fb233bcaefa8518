"""The subscriber examples of docs/subscribers.md, run as they are documented.

`docs/examples/kafka_subscriber.py` runs as two processes of one consumer group (one is
stopped mid-stream and started again); `docs/examples/sse_subscriber.py` reads the event feed,
is stopped, and resumes. Each must have handled every stored event exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import orjson

from infra.kafka_broker import EmbeddedBroker
from tests.polling import until
from tests.subscribers import partitions_by_topic, service

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"
# The embedded broker answers a group's first join after half the session timeout: keep it short.
FAST_GROUP = json.dumps({"session.timeout.ms": 6000, "heartbeat.interval.ms": 500})


class Example:
    """One run of an example script; `handled` is what it printed, one JSON event per line."""

    def __init__(self, script: str, *args: str) -> None:
        self.command = [sys.executable, str(EXAMPLES / script), *args]
        self.handled: list[dict] = []
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> Example:
        env = os.environ | {"SUBSCRIBER_KAFKA_CONFIG": FAST_GROUP}
        self._process = await asyncio.create_subprocess_exec(*self.command, stdout=asyncio.subprocess.PIPE, env=env)
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        async for line in self._process.stdout:
            self.handled.append(orjson.loads(line))

    async def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """Signal it and wait until it has exited; its exit status."""
        assert self._process is not None and self._reader is not None
        if self._process.returncode is None:
            self._process.send_signal(sig)
        async with asyncio.timeout(60):
            code = await self._process.wait()
            await self._reader
        return code


@contextlib.asynccontextmanager
async def running(*examples: Example) -> AsyncIterator[None]:
    try:
        yield
    finally:
        for example in examples:
            with contextlib.suppress(Exception):
                await example.stop(signal.SIGKILL)


async def test_the_kafka_example_as_a_two_member_group_handles_every_event_once(settings, tmp_path):
    broker = EmbeddedBroker()
    await broker.start()
    database = str(tmp_path / "subscriber.db")
    try:
        async with service(settings, broker) as svc:
            args = ("kafka_subscriber.py", broker.bootstrap, "documented", database)
            first, second = Example(*args), Example(*args)
            third = Example(*args)  # the second one again, after its restart
            async with running(first, second, third):
                # librdkafka looks again for a subscribed topic that is missing only at its next
                # metadata refresh (5 minutes): start once the relay has made the topics.
                topics = svc.relay.topics()

                async def topics_made() -> bool:
                    return len(await asyncio.to_thread(partitions_by_topic, broker.bootstrap, topics)) == len(topics)

                await until(topics_made)
                await first.start()
                await second.start()
                await svc.write(10)
                await until(lambda: first.handled and second.handled, within=120)  # both hold partitions

                writing = asyncio.create_task(svc.write(10))
                assert await second.stop() == 0  # mid-stream: finishes its message, leaves the group
                await writing
                await third.start()
                await svc.write(10)

                def handled() -> set[str]:
                    return {e["id"] for run in (first, second, third) for e in run.handled}

                feed = await svc.seen_by(handled, within=180)
                assert await first.stop() == 0 and await third.stop() == 0
        counts = Counter(e["id"] for run in (first, second, third) for e in run.handled)
        assert set(counts) == set(feed) and set(counts.values()) == {1}  # each once, across the group
        for run in (first, second, third):
            versions: dict[str, list[int]] = {}
            for event in run.handled:
                versions.setdefault(event["subject"], []).append(event["streamversion"])
            assert all(v == sorted(v) for v in versions.values())
    finally:
        await broker.stop()


async def test_the_sse_example_resumes_after_a_restart_without_repeats(settings, tmp_path):
    state = str(tmp_path / "position")
    async with service(settings, None) as svc:
        url = str(svc.client.make_url("")).rstrip("/")
        token = svc.headers["Authorization"].removeprefix("Bearer ")
        before, after = (Example("sse_subscriber.py", url, token, state) for _ in range(2))
        async with running(before, after):
            await before.start()
            await svc.write(5)
            await svc.seen_by(lambda: {e["id"] for e in before.handled}, within=60)
            await until(lambda: Path(state).exists() and int(Path(state).read_text() or 0)
                        == before.handled[-1]["position"])
            await before.stop(signal.SIGKILL)  # between events: it waits on the stream, its position kept
            await svc.write(5)  # while it is down
            await after.start()
            feed = await svc.seen_by(lambda: {e["id"] for e in before.handled + after.handled}, within=60)
    handled = [e["id"] for e in before.handled + after.handled]
    assert handled == feed  # every event once, in log order, the second run after the first
    assert before.handled and after.handled
    assert after.handled[0]["position"] == before.handled[-1]["position"] + 1
