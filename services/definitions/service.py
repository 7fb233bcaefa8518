"""Process definition commands: load, decide, save. Each returns the answer to give."""

from __future__ import annotations

import asyncio
import functools
from typing import Any
from uuid import UUID

from events.configuration import check_configuration, check_key
from events.definition import ProcessDefinition
from events.errors import NotFound, StaleVersion
from events.process_key import ProcessKey, key_id
from events.workflow import is_xml
from infra.event_store import EventStore
from infra.tokens import Principal
from services.common.executor import CommandExecutor, Decision
from services.definitions.queries import render_aggregate
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

    async def as_of(self, key: str, *, version: int | None, until: Any) -> ProcessDefinition:
        """The definition holding a key now, as it was at an aggregate version or a moment."""
        definition, _ = await self.get(key)
        past = await load(self.store, definition.id, to_version=version, until=until)
        if past is None or past.deleted or not past.versions:
            raise NotFound(f"process {key!r} did not exist then")
        return past

    async def save(
        self, who: Principal, key: str, configuration: dict[str, Any], if_match: int | None, idem: str | None
    ) -> dict[str, Any]:
        """Create the definition, or add a version when the configuration changed."""
        check_key(key)
        check = functools.partial(check_configuration, configuration, max_workflow_bytes=self.max_workflow_bytes)
        if is_xml(configuration.get("workflow")):
            # Parsing a BPMN document is CPU work: keep it off the event loop.
            await asyncio.get_running_loop().run_in_executor(None, check)
        else:
            check()

        async def decide() -> Decision:
            try:
                definition, claim = await self.get(key)
            except NotFound:
                claim = await self.claim(key)  # never used, or released by a delete or rename
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

        return await self.executor.run(who, idem, decide, retries=2, request=("save", key, configuration, if_match))

    async def tag(self, who: Principal, key: str, selector: str, tag: str, if_match: int | None, idem: str | None) -> dict[str, Any]:
        """Put a tag on a version (moving it from another)."""
        return await self._change(who, key, if_match, idem, lambda d: d.tag(selector, tag, who.user), ("tag", selector, tag))

    async def untag(self, who: Principal, key: str, tag: str, if_match: int | None, idem: str | None) -> dict[str, Any]:
        """Remove a tag, keeping its version."""
        return await self._change(who, key, if_match, idem, lambda d: d.untag(tag, who.user), ("untag", tag))

    async def remove_version(self, who: Principal, key: str, selector: str, if_match: int | None, idem: str | None) -> dict[str, Any]:
        """Remove one version (the last one deletes the definition)."""
        return await self._change(who, key, if_match, idem, lambda d: d.remove_version(selector, who.user), ("remove", selector))

    async def delete(self, who: Principal, key: str, if_match: int | None, idem: str | None) -> dict[str, Any]:
        """Delete the definition and all its versions."""
        return await self._change(who, key, if_match, idem, lambda d: d.delete(who.user), ("delete",))

    async def rename(self, who: Principal, key: str, new_key: str, if_match: int | None, idem: str | None) -> dict[str, Any]:
        """Move a definition to a new key; the old key becomes free."""
        check_key(new_key)

        async def decide() -> Decision:
            definition, old_claim = await self.get(key)
            check_if_match(definition, if_match)
            new_claim = await self.claim(new_key) or ProcessKey(key=new_key)
            new_claim.claim(definition.id)
            definition.rename(new_key, who.user)
            old_claim.release(definition.id)
            return Decision([definition, old_claim, new_claim], self._answer(definition, created=False, changed=True))

        return await self.executor.run(who, idem, decide, request=("rename", key, new_key, if_match))

    async def _change(
        self, who: Principal, key: str, if_match: int | None, idem: str | None, command: Any, request: tuple[Any, ...]
    ) -> dict[str, Any]:
        async def decide() -> Decision:
            definition, claim = await self.get(key)
            check_if_match(definition, if_match)
            command(definition)
            if definition.deleted:
                claim.release(definition.id)
                return Decision([definition, claim], {"_id": key, "deleted": True, "etag": definition.version})
            return Decision([definition], self._answer(definition, created=False, changed=True))

        return await self.executor.run(who, idem, decide, request=(*request, key, if_match))

    @staticmethod
    def _answer(definition: ProcessDefinition, *, created: bool, changed: bool) -> dict[str, Any]:
        return {
            "body": render_aggregate(definition),
            "created": created,
            "changed": changed,
            "etag": definition.version,
        }
