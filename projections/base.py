"""What a projection is: its tables, and one small handler per event type it reads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.utils import get_topic

Handler = Callable[[Any, Any, int], Awaitable[None]]
"""`handler(connection, domain_event, position)`: writes the view rows for one event."""


@dataclass(frozen=True)
class Projection:
    """A named read model. Its rows and its position are written in one transaction."""

    name: str
    schema: str
    tables: tuple[str, ...]
    handlers: Mapping[type, Handler]
    topics: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "topics", frozenset(get_topic(cls) for cls in self.handlers))

    def handler_for(self, event: Any) -> Handler | None:
        """The handler of this event's class, if the projection reads it."""
        return self.handlers.get(type(event))
