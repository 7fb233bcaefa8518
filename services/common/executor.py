"""Running a command: idempotency, one atomic append, and read-your-writes.

A command's `decide` loads aggregates, calls the domain and returns the aggregates it
changed with the result to answer. The result is stored with the events under the
caller's `Idempotency-Key`, so a retry answers exactly what the first call answered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import hashlib

import orjson
from eventsourcing.utils import get_topic

from events.errors import InvalidInput
from infra.event_store import EventStore, VersionConflict
from infra.projection_runner import ProjectionRunner
from infra.tokens import Principal


@dataclass
class Decision:
    """What a command decided: the aggregates with new events, and the answer."""

    aggregates: list[Any] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)


Decide = Callable[[], Awaitable[Decision]]


class CommandExecutor:
    """Runs commands; waits until projections have seen their events before answering."""

    def __init__(self, store: EventStore, projections: ProjectionRunner, *, consistency_timeout: float) -> None:
        self.store = store
        self.projections = projections
        self.consistency_timeout = consistency_timeout

    async def run(
        self, principal: Principal, idempotency_key: str | None, decide: Decide, *, retries: int = 0,
        request: tuple[Any, ...] | None = None,
    ) -> dict[str, Any]:
        """Decide and append once; `retries` re-decides after a version conflict (for upserts).

        With an `Idempotency-Key`, the stored answer carries a digest of `request` (what the
        command was asked to do), so reusing a key for another request is refused (422)
        instead of being answered with a different command's result.
        """
        if not idempotency_key:
            return await self._run(None, decide, retries)
        digest = hashlib.sha256(orjson.dumps(request, option=orjson.OPT_SORT_KEYS)).hexdigest()
        result = await self._run(f"{principal.user}\x1f{idempotency_key}", _signed(decide, digest), retries)
        if result.get("request", digest) != digest:
            raise InvalidInput(
                "this Idempotency-Key was already used for a different request",
                ["Idempotency-Key: already used for a different request; use a new key"],
            )
        return result

    async def _run(self, scoped: str | None, decide: Decide, retries: int) -> dict[str, Any]:
        if scoped and (earlier := await self.store.idempotent_result(scoped)) is not None:
            return orjson.loads(earlier)
        for attempt in range(retries + 1):
            decision = await decide()
            events = [e for aggregate in decision.aggregates for e in aggregate.collect_events()]
            if not events:
                return decision.result
            try:
                appended = await self.store.append(
                    events, idempotency_key=scoped, result=orjson.dumps(decision.result)
                )
            except VersionConflict:
                if attempt == retries:
                    raise
                continue
            if appended.duplicate_of is not None:
                return orjson.loads(appended.duplicate_of)
            topics = {get_topic(type(e)) for e in events}
            await self.projections.wait_for(appended.last_position, self.consistency_timeout, topics)
            return decision.result
        raise AssertionError("unreachable")  # the loop returns or raises


def _signed(decide: Decide, digest: str) -> Decide:
    async def signed() -> Decision:
        decision = await decide()
        decision.result["request"] = digest
        return decision

    return signed
