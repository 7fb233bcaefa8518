"""Process definition commands: load, decide, save. Each takes a command and answers `DefinitionChanged`."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any
from uuid import UUID

from events.configuration import check_configuration, check_key
from events.definition import ProcessDefinition
from events.errors import NotFound, StaleVersion
from events.process_key import ProcessKey, key_id
from events.workflow import is_xml
from infra.event_store import EventStore, VersionConflict
from infra.tokens import Principal
from services.common.executor import CommandExecutor, Decision
from services.definitions.commands import (
    DefinitionChanged,
    DeleteDefinition,
    RemoveVersion,
    RenameDefinition,
    SaveDefinition,
    TagVersion,
    UntagVersion,
)
from services.definitions.models import ConfigurationVersion
from services.definitions.queries import version_of
from services.common.repository import load, load_many


def check_if_match(aggregate: Any, if_match: int | None) -> None:
    """Refuse a command whose `If-Match` names another version than the current one."""
    if if_match is not None and aggregate.version != if_match:
        raise StaleVersion(f"the resource is at version {aggregate.version}, not {if_match}")


class DefinitionService:
    """Commands on process definitions, addressed by key."""

    def __init__(self, store: EventStore, executor: CommandExecutor, *, max_workflow_bytes: int) -> None:
        self.store = store
        self.executor = executor
        self.max_workflow_bytes = max_workflow_bytes

    async def claim(self, key: str) -> ProcessKey | None:
        """The claim aggregate of a key, if the key was ever used."""
        return await load(self.store, key_id(key))

    async def get(self, key: str) -> tuple[ProcessDefinition, ProcessKey]:
        """The live definition holding a key, with its claim."""
        claim_id = key_id(key)
        # The cached claim names the likely holder, so both load in one round trip.
        known = self.store.aggregates.peek(claim_id)
        guess = UUID(known.holder) if known is not None and known.holder else None
        loaded = await load_many(self.store, [claim_id, guess] if guess else [claim_id])
        claim = loaded[claim_id]
        if claim is None or claim.holder is None:
            raise NotFound(f"no process called {key!r}")
        holder = UUID(claim.holder)
        return (loaded[holder] if holder == guess else await load(self.store, holder)), claim

    async def as_of(self, key: str, *, version: int | None, until: Any) -> tuple[ConfigurationVersion, int]:
        """The definition holding a key now, as it was at an aggregate version or a moment; with that version."""
        definition, _ = await self.get(key)
        past = await load(self.store, definition.id, to_version=version, until=until)
        if past is None or past.deleted or not past.versions:
            raise NotFound(f"process {key!r} did not exist then")
        return version_of(past), past.version

    async def save(self, who: Principal, command: SaveDefinition, idem: str | None = None) -> DefinitionChanged:
        """Create the definition, or add a version when the configuration changed."""
        key, configuration, if_match = command.key, command.configuration, command.if_match
        check_key(key)
        check = functools.partial(check_configuration, configuration, max_workflow_bytes=self.max_workflow_bytes)
        if is_xml(configuration.get("workflow")):
            # Parsing a BPMN document is CPU work: keep it off the event loop.
            await asyncio.get_running_loop().run_in_executor(None, check)
        else:
            check()

        async def decide() -> Decision[DefinitionChanged]:
            try:
                definition, claim = await self.get(key)
            except NotFound:
                claim = await self.claim(key)  # never used, or released by a delete or rename
                if claim is not None and claim.holder is not None:
                    # Created by another call between our two reads: decide again on what is there now.
                    raise VersionConflict(f"process {key!r} was created meanwhile")
            else:
                check_if_match(definition, if_match)
                changed = definition.add_version(configuration, who.user)
                return Decision([definition], self._answer(definition, created=False, changed=changed))
            if if_match is not None:  # RFC 9110: If-Match fails when nothing is there to match
                raise StaleVersion(f"no process called {key!r}, so version {if_match} cannot match")
            definition = ProcessDefinition.register(key, configuration, who.user)
            claim = claim or ProcessKey(key=key)
            claim.claim(definition.id)
            return Decision([definition, claim], self._answer(definition, created=True, changed=True))

        return await self.executor.run(who, idem, command, decide, DefinitionChanged, retries=2)

    async def tag(self, who: Principal, command: TagVersion, idem: str | None = None) -> DefinitionChanged:
        """Put a tag on a version (moving it from another)."""
        return await self._change(who, command, idem, lambda d: d.tag(command.selector, command.tag, who.user))

    async def untag(self, who: Principal, command: UntagVersion, idem: str | None = None) -> DefinitionChanged:
        """Remove a tag, keeping its version."""
        return await self._change(who, command, idem, lambda d: d.untag(command.tag, who.user))

    async def remove_version(self, who: Principal, command: RemoveVersion, idem: str | None = None) -> DefinitionChanged:
        """Remove one version (the last one deletes the definition)."""
        return await self._change(who, command, idem, lambda d: d.remove_version(command.selector, who.user))

    async def delete(self, who: Principal, command: DeleteDefinition, idem: str | None = None) -> DefinitionChanged:
        """Delete the definition and all its versions."""
        return await self._change(who, command, idem, lambda d: d.delete(who.user))

    async def rename(self, who: Principal, command: RenameDefinition, idem: str | None = None) -> DefinitionChanged:
        """Move a definition to a new key; the old key becomes free."""
        check_key(command.new_key)

        async def decide() -> Decision[DefinitionChanged]:
            definition, old_claim = await self.get(command.key)
            check_if_match(definition, command.if_match)
            new_claim = await self.claim(command.new_key) or ProcessKey(key=command.new_key)
            new_claim.claim(definition.id)
            definition.rename(command.new_key, who.user)
            old_claim.release(definition.id)
            return Decision([definition, old_claim, new_claim], self._answer(definition, created=False, changed=True))

        return await self.executor.run(who, idem, command, decide, DefinitionChanged)

    async def _change(
        self, who: Principal, command: TagVersion | UntagVersion | RemoveVersion | DeleteDefinition,
        idem: str | None, change: Callable[[ProcessDefinition], Any],
    ) -> DefinitionChanged:
        async def decide() -> Decision[DefinitionChanged]:
            definition, claim = await self.get(command.key)
            check_if_match(definition, command.if_match)
            change(definition)
            if definition.deleted:
                claim.release(definition.id)
                return Decision([definition, claim], DefinitionChanged(command.key, definition.version, deleted=True))
            return Decision([definition], self._answer(definition, created=False, changed=True))

        return await self.executor.run(who, idem, command, decide, DefinitionChanged)

    @staticmethod
    def _answer(definition: ProcessDefinition, *, created: bool, changed: bool) -> DefinitionChanged:
        return DefinitionChanged(definition.key, definition.version, created=created, changed=changed,
                                 current=version_of(definition))
