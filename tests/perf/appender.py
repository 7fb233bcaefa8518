"""Appends commands at a steady rate from its own process; prints when each one committed.

Used by the relay benchmark so that the load does not share the relay's event loop:

    python tests/perf/appender.py --url postgresql://... --rate 1000 --seconds 10

Each command is a new definition (2 events). Output: JSON list of [last position, commit
time (time.time())].
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from events.definition import ProcessDefinition
from infra.event_store import EventStore
from infra.postgres import create_pool
from infra.transcoder import create_mapper


async def run(args: argparse.Namespace) -> list[tuple[int, float]]:
    pool = await create_pool(args.url, size=4)
    store = EventStore(pool, create_mapper())
    await store.start()
    committed: list[tuple[int, float]] = []
    pending: set[asyncio.Task[None]] = set()

    async def command(n: int) -> None:
        events = ProcessDefinition.register(f"appended-{n}", {"script": "echo-params"}, "bench").collect_events()
        appended = await store.append(list(events))
        committed.append((appended.last_position, time.time()))

    try:
        interval, n = 1 / args.rate, 0
        due = time.perf_counter()
        end = due + args.seconds
        while due < end:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            task = asyncio.create_task(command(n))
            pending.add(task)
            task.add_done_callback(pending.discard)
            n, due = n + 1, due + interval
        await asyncio.gather(*pending)
    finally:
        await store.stop()
        await pool.close()
    return committed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, required=True, help="commands per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
