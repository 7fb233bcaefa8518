"""What a projection is: its tables, and one small handler per event type it reads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.utils import get_topic

from projections.rows import Rows

Handler = Callable[[Any, Any, int], Awaitable[None]]
"""`handler(connection, domain_event, position)`: writes the view rows for one event."""

BatchHandler = Callable[[Any, list[tuple[Any, int]]], Awaitable[None]]
"""`handler(connection, [(domain_event, position), ...])`: the same for a run of one event type."""


@dataclass(frozen=True)
class Projection:
    """A named read model. Its rows and its position are written in one transaction."""

    name: str
    schema: str
    tables: tuple[str, ...]
    handlers: Mapping[type, Handler]
    # Optional: for event types that come in runs (a version per POST), one handler for the
    # whole run, so its rows go in with `executemany` (one round trip) instead of one by one.
    batch_handlers: Mapping[type, BatchHandler] = field(default_factory=dict)
    # Or, for a table of one row per aggregate: folds over the rows, written a batch at a time.
    rows: Rows | None = None
    topics: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        classes = [*self.handlers, *self.batch_handlers, *(self.rows.folds if self.rows else ())]
        object.__setattr__(self, "topics", frozenset(get_topic(cls) for cls in classes))
