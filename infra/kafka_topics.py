"""Creating the relay's topics before their first message, with the configured partition count.

A broker that creates a topic on first use gives it its own default (Tansu: 4 partitions), so
the relay asks for its topics first. A topic that exists already is left as it is: changing a
keyed topic's partition count moves keys between partitions, which only an operator should do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code


async def create_missing(
    bootstrap: str, names: Iterable[str], *, partitions: int, replication_factor: int, request_timeout_ms: int,
    client_id: str,
) -> dict[str, str | None]:
    """Create the topics that do not exist yet; per topic, None (created or there) or why the broker refused.

    Raises only when no broker answers; a refusal (no permission, a policy) is the caller's to report.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=request_timeout_ms,
                                client_id=client_id)
    await admin.start()
    try:
        response = await admin.create_topics(
            [NewTopic(name, partitions, replication_factor) for name in names], timeout_ms=request_timeout_ms)
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    outcome: dict[str, str | None] = {}
    for name, code, *message in response.topic_errors:  # version 1 and later add a message
        error = for_code(code) if code else None
        refused = error is not None and error is not TopicAlreadyExistsError
        outcome[name] = f"{error.__name__}: {message[0] if message else ''}" if refused else None
    return outcome
