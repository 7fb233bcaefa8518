"""The claim on a definition key.

Invariant: at most one live definition holds a key at a time. The claim's id is derived
from the key, so two concurrent creations of one key collide in the event store.
"""

from __future__ import annotations

from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from events.errors import Conflict

_NAMESPACE = UUID("6f1c2f7e-8f0a-4a57-9b0e-6d2c1d3b7a10")


def key_id(key: str) -> UUID:
    """The id of the claim aggregate for a key."""
    return uuid5(_NAMESPACE, key)


class ProcessKey(Aggregate):
    """Who holds a key; claimed by a definition, released on rename or delete."""

    class Opened(Aggregate.Created):
        key: str

    class Claimed(Aggregate.Event):
        definition_id: str

        def apply(self, aggregate: ProcessKey) -> None:
            aggregate.holder = self.definition_id

    class Released(Aggregate.Event):
        definition_id: str

        def apply(self, aggregate: ProcessKey) -> None:
            aggregate.holder = None

    @staticmethod
    def create_id(key: str) -> UUID:
        return key_id(key)

    def __init__(self, key: str) -> None:
        self.key = key
        self.holder: str | None = None

    def claim(self, definition_id: UUID) -> None:
        """Give the key to a definition."""
        if self.holder is not None:
            raise Conflict(f"a process called {self.key!r} already exists")
        self.trigger_event(self.Claimed, definition_id=str(definition_id))

    def release(self, definition_id: UUID) -> None:
        """Free the key; only its holder may."""
        if self.holder == str(definition_id):
            self.trigger_event(self.Released, definition_id=str(definition_id))
