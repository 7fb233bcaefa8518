"""Recently loaded aggregates, kept in memory so the next load only reads newer events.

Every load gets its own copy to decide on: a command that is refused or conflicts never
leaves a half-changed aggregate behind for the next one. Events are immutable and only
appended, so a cached state plus the events recorded after it (by any process) is always
the current state.
"""

from __future__ import annotations

import copy
import datetime
import decimal
import enum
import functools
import uuid
from collections import OrderedDict
from typing import Any

_ATOMIC = (str, int, float, bool, bytes, type(None), uuid.UUID, datetime.datetime, datetime.date,
           datetime.timedelta, decimal.Decimal, enum.Enum, frozenset)


def clone(value: Any) -> Any:
    """A deep copy that shares immutable values (ids, times, enums) instead of rebuilding them.

    `copy.deepcopy` reconstructs every UUID and datetime through `__reduce_ex__`, which made
    copying the aggregate the most expensive step of a command. Objects that define
    `__deepcopy__` (e.g. frozen value types that are shared on purpose) keep their say.
    """
    if isinstance(value, _ATOMIC):
        return value
    kind = type(value)
    if kind is dict:
        return {k: clone(v) for k, v in value.items()}
    if kind is list:
        return [clone(v) for v in value]
    if kind is tuple:
        return tuple(clone(v) for v in value)
    if kind is set:
        return {clone(v) for v in value}
    if hasattr(value, "__deepcopy__"):
        return value.__deepcopy__({})
    if hasattr(value, "__dict__") and not _has_slots(kind):
        twin = object.__new__(kind)
        twin.__dict__.update({k: clone(v) for k, v in value.__dict__.items()})
        return twin
    return copy.deepcopy(value)


@functools.cache
def _has_slots(kind: type) -> bool:
    # Only a non-empty __slots__ somewhere in the hierarchy holds state outside __dict__.
    return any(getattr(base, "__slots__", ()) for base in kind.__mro__)


class Gap(Exception):
    """The cached state and the events given do not join up (the entry was evicted meanwhile)."""


class AggregateCache:
    """A bounded LRU of aggregate states by id, advanced by the events recorded after them.

    Bounded twice: by the number of aggregates, and by the events folded into the cached
    states (an aggregate's version), which tracks memory where a count alone would not: one
    definition with thousands of versions weighs what thousands of small instances weigh.
    """

    def __init__(self, size: int = 4096, max_events: int = 200_000) -> None:
        self.size = size
        self.max_events = max_events
        self.events = 0  # the sum of the cached states' versions
        self._entries: OrderedDict[uuid.UUID, Any] = OrderedDict()

    def version_of(self, aggregate_id: uuid.UUID) -> int:
        """The version of the cached state (0 when there is none): read the events after it."""
        entry = self._entries.get(aggregate_id)
        return entry.version if entry is not None else 0

    def advance(self, aggregate_id: uuid.UUID, events: list[Any]) -> Any | None:
        """Apply newly read events to the cached state; a copy to decide on (None if no events ever).

        Events the state already holds are skipped (another load may have applied them
        since these were read); Gap if the events do not follow on from the state.
        """
        entry = self._entries.get(aggregate_id)
        before = entry.version if entry is not None else 0  # events mutate the state in place
        for event in events:
            if entry is not None and event.originator_version <= entry.version:
                continue
            if (entry.version if entry is not None else 0) + 1 != event.originator_version:
                raise Gap(aggregate_id)
            entry = event.mutate(entry)
        if entry is None:
            return None
        self.events += entry.version - before
        self._entries[aggregate_id] = entry
        self._entries.move_to_end(aggregate_id)
        while len(self._entries) > 1 and (len(self._entries) > self.size or self.events > self.max_events):
            _, evicted = self._entries.popitem(last=False)
            self.events -= evicted.version
        return clone(entry)

    def peek(self, aggregate_id: uuid.UUID) -> Any | None:
        """The cached aggregate itself, to read from only (never to decide on)."""
        return self._entries.get(aggregate_id)
