"""Running a command: idempotency, one atomic append, and read-your-writes.

A command is a frozen dataclass. Its `decide` loads aggregates, calls the domain and returns
the aggregates it changed with a typed result. The result is stored with the events under the
caller's `Idempotency-Key`, so a retry answers exactly what the first call answered; the key
is signed with a digest of the whole command object, so a key reused for a command that
differs in any field is refused instead of answered with another command's result.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import orjson
from eventsourcing.utils import get_topic
from pydantic import TypeAdapter

from events.configuration import value_problems
from events.errors import DomainError, InvalidInput
from infra import metrics
from infra.event_store import EventStore, VersionConflict
from infra.projection_runner import ProjectionRunner
from infra.tokens import Principal

R = TypeVar("R")


@dataclass
class Decision(Generic[R]):
    """What a command decided: the aggregates with new events, and the result to answer."""

    aggregates: list[Any]
    result: R


Decide = Callable[[], Awaitable[Decision[R]]]


def _encode(value: Any) -> Any:
    # Bytes (uploaded files) enter the digest by their hash: the same content, the same command.
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"sha256": hashlib.sha256(value).hexdigest()}
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} cannot be part of a command")


def _refuse_nul(events: list[Any]) -> None:
    # No text or JSON column holds a NUL: an event carrying one would stop the read models for good.
    problems = [line for event in events for line in value_problems(vars(event), max_depth=None)]
    if problems:
        raise InvalidInput("the request holds a NUL character", list(dict.fromkeys(problems)))


def command_digest(command: Any) -> str:
    """A digest of every field of a command (and its type): equal only for equal commands."""
    if not dataclasses.is_dataclass(command) or isinstance(command, type):
        raise TypeError("a command is a dataclass instance")
    payload = {"command": type(command).__qualname__, "fields": dataclasses.asdict(command)}
    raw = orjson.dumps(payload, default=_encode, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.sha256(raw).hexdigest()


@functools.cache
def _adapter(result_type: Any) -> TypeAdapter[Any]:
    return TypeAdapter(result_type)


class CommandExecutor:
    """Runs commands; waits until projections have seen their events before answering."""

    def __init__(self, store: EventStore, projections: ProjectionRunner, *, consistency_timeout: float) -> None:
        self.store = store
        self.projections = projections
        self.consistency_timeout = consistency_timeout

    async def run(
        self, principal: Principal, idempotency_key: str | None, command: Any, decide: Decide[R],
        result_type: type[R], *, retries: int = 0,
    ) -> R:
        """Decide and append once; `retries` re-decides after a version conflict (for upserts).

        With an `Idempotency-Key`, an earlier answer for the same key (scoped per user) is
        returned as it was stored; one stored for a different command is refused (422).
        """
        name = type(command).__name__
        try:
            result = await self._run(principal, idempotency_key, command, decide, result_type, retries)
        except VersionConflict:
            metrics.count_command(name, "conflict")
            raise
        except DomainError:
            metrics.count_command(name, "rejected")
            raise
        except Exception:
            metrics.count_command(name, "error")
            raise
        metrics.count_command(name, "ok")
        return result

    async def _run(
        self, principal: Principal, idempotency_key: str | None, command: Any, decide: Decide[R],
        result_type: type[R], retries: int,
    ) -> R:
        scoped = f"{principal.user}\x1f{idempotency_key}" if idempotency_key else None
        digest = command_digest(command) if scoped else None
        if scoped and (earlier := await self.store.idempotent_result(scoped)) is not None:
            return self._replay(earlier, digest, result_type)
        for attempt in range(retries + 1):
            try:
                # A decide may raise VersionConflict itself when what it read changed under it.
                decision = await decide()
                events = [e for aggregate in decision.aggregates for e in aggregate.collect_events()]
                if not events:
                    return decision.result
                _refuse_nul(events)
                stored = orjson.dumps({"request": digest, "result": dataclasses.asdict(decision.result)}) if scoped else None
                appended = await self.store.append(events, idempotency_key=scoped, result=stored)
            except VersionConflict:
                if attempt == retries:
                    raise
                continue
            if appended.duplicate_of is not None:  # another call with this key won the race
                return self._replay(appended.duplicate_of, digest, result_type)
            topics = {get_topic(type(e)) for e in events}
            await self.projections.wait_for(appended.last_position, self.consistency_timeout, topics)
            return decision.result
        raise AssertionError("unreachable")  # the loop returns or raises

    @staticmethod
    def _replay(stored: bytes, digest: str | None, result_type: type[R]) -> R:
        data = orjson.loads(stored)
        if not isinstance(data, dict) or data.get("request") != digest or "result" not in data:
            raise InvalidInput(
                "this Idempotency-Key was already used for a different request",
                ["Idempotency-Key: already used for a different request; use a new key"],
            )
        return _adapter(result_type).validate_python(data["result"])
