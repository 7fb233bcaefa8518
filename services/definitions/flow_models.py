"""The graph an instance runs, rebuilt from the definition version it recorded.

Versions are immutable and their numbers never reused, so a (definition, version) pair always
names one configuration; it is read from the definition's own `VersionCreated` event, which a
later rollback cannot remove. Compiled graphs are cached, since compiling is pure.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any
from uuid import UUID

from events.concord.runtime import RunLimits
from events.definition import ProcessDefinition
from events.errors import NotFound
from events.flows.graph import FlowGraph
from events.workflow import compile_workflow
from infra.event_store import EventStore

_CACHE_SIZE = 256


class FlowModels:
    """Configurations and compiled graphs by definition id and version number."""

    def __init__(self, store: EventStore, *, max_workflow_bytes: int, concord_limits: RunLimits | None = None) -> None:
        self.store = store
        self.max_workflow_bytes = max_workflow_bytes
        self.concord_limits = concord_limits or RunLimits()
        self._graphs: OrderedDict[tuple[str, int], FlowGraph] = OrderedDict()

    async def configuration(self, definition_id: str, version: int) -> dict[str, Any]:
        """The configuration of one version, even if the version was removed since."""
        for event in await self.store.load(UUID(definition_id)):
            if isinstance(event, ProcessDefinition.VersionCreated) and event.version == version:
                return event.configuration
        raise NotFound(f"definition {definition_id} has no version {version}")

    async def graph(self, definition_id: str, version: int) -> FlowGraph:
        """The compiled graph of one version's workflow (or script)."""
        key = (definition_id, version)
        if (cached := self._graphs.get(key)) is not None:
            self._graphs.move_to_end(key)
            return cached
        configuration = await self.configuration(definition_id, version)
        loop = asyncio.get_running_loop()
        graph = await loop.run_in_executor(
            None, lambda: compile_workflow(configuration, max_bytes=self.max_workflow_bytes, limits=self.concord_limits)
        )
        self._graphs[key] = graph
        if len(self._graphs) > _CACHE_SIZE:
            self._graphs.popitem(last=False)
        return graph
