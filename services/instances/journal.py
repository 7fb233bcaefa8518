"""One instance kept in memory by the worker that runs its script, for frequent small writes.

A script may append output many times a second: loading the whole instance (with all its
earlier output) for each batch would cost more with every batch. The journal folds only the
events recorded since its last write, calls the domain, and appends; when another writer got
in between (a stop request), it reloads and decides again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from events.errors import NotFound
from events.instance import ProcessInstance
from infra.event_store import EventStore, VersionConflict

_ATTEMPTS = 5


class InstanceJournal:
    """Writes the runner's own events (output, files) to one instance."""

    def __init__(self, store: EventStore, instance_id: UUID) -> None:
        self.store = store
        self.instance_id = instance_id
        self.instance: ProcessInstance | None = None

    async def record(self, command: Callable[[ProcessInstance], Any]) -> None:
        """Apply `command` to the current instance and append its events."""
        for _ in range(_ATTEMPTS):
            instance = await self._current()
            command(instance)
            events = instance.collect_events()
            if not events:
                return
            try:
                await self.store.append(events)
                return
            except VersionConflict:
                self.instance = None  # the in-memory state holds the refused events: fold afresh
        raise VersionConflict(f"instance {self.instance_id} kept changing; output not recorded")

    async def _current(self) -> ProcessInstance:
        instance = self.instance
        after = instance.version if instance is not None else 0
        while rows := await self.store.read_stream(self.instance_id, after):
            for row in rows:
                instance = self.store.to_domain_event(row).mutate(instance)
            after = rows[-1].originator_version
        if not isinstance(instance, ProcessInstance):
            raise NotFound(f"no process instance {self.instance_id}")
        self.instance = instance
        return instance
