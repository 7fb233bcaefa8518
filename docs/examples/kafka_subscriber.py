"""A downstream subscriber of procession's Kafka topics, with confluent-kafka (docs/subscribers.md).

    python kafka_subscriber.py BOOTSTRAP GROUP DATABASE [TOPIC...]

Reads every CloudEvent once in order per aggregate, drops repeats by CloudEvent `id`, and
resumes after a restart: the ids it processed live in its own database (SQLite here), written
in the same transaction as whatever it does with the event, and its position is the group's
committed offsets. Run several with the same GROUP and DATABASE and they share the partitions.
Stops on SIGTERM or Ctrl+C. Here "doing something" is printing the event as a JSON line.
More librdkafka settings (SASL, TLS, timeouts) come as JSON in SUBSCRIBER_KAFKA_CONFIG.
"""

import json
import os
import signal
import sqlite3
import sys

from confluent_kafka import Consumer

TOPICS = ["procession.ProcessDefinition", "procession.ProcessInstance", "procession.ProcessKey"]


def handle(event: dict, db: sqlite3.Connection) -> None:
    """Your work, inside the transaction that records the event's id."""
    print(json.dumps(event), flush=True)


def main() -> None:
    bootstrap, group, database, *topics = sys.argv[1:]
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))  # finish the message, then leave
    db = sqlite3.connect(database, timeout=30)
    db.execute("CREATE TABLE IF NOT EXISTS processed (id TEXT PRIMARY KEY)")
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                         "enable.auto.commit": False, **json.loads(os.environ.get("SUBSCRIBER_KAFKA_CONFIG", "{}"))})
    consumer.subscribe(topics or TOPICS)
    try:
        while not stopping:
            message = consumer.poll(1.0)
            if message is None or message.error():
                continue  # nothing yet, or a transient error the client recovers from
            event = json.loads(message.value())
            with db:  # one transaction: the id and the work, or neither
                if db.execute("INSERT OR IGNORE INTO processed VALUES (?)", (event["id"],)).rowcount:
                    handle(event, db)  # a repeat (rowcount 0) is dropped
            consumer.commit(message)  # after a restart, the group resumes after this message
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()


if __name__ == "__main__":
    main()
