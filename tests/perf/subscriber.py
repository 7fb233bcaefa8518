"""A downstream subscriber for the relay benchmark, in its own process (not the relay's GIL).

    python tests/perf/subscriber.py --bootstrap HOST:PORT TOPIC...

A confluent-kafka consumer group member reading from the earliest offset; for each message it
prints a line `<global position> <when it reached it (time.time())>`, until SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time

from confluent_kafka import Consumer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("topics", nargs="+")
    args = parser.parse_args()
    stopping: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": "bench", "auto.offset.reset": "earliest",
                         "session.timeout.ms": 6000, "heartbeat.interval.ms": 500, "fetch.wait.max.ms": 10,
                         "topic.metadata.refresh.interval.ms": 1000, "log_level": 3})
    consumer.subscribe(args.topics)
    try:
        while not stopping:
            message = consumer.poll(0.1)  # returns at the first message (consume() waits for a full batch)
            if message is not None and not message.error():
                sys.stdout.write(f"{json.loads(message.value())['globalposition']} {time.time()}\n")
                sys.stdout.flush()
    finally:
        consumer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
