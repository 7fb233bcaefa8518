"""Process instance commands: load the instance and its graph, call the domain, save.

Every command takes a command object and answers `InstanceChanged` (the etag is the aggregate version).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from events.definition import LATEST
from events.errors import Conflict, NotFound
from events.flows.graph import FlowGraph
from events.instance import ProcessInstance
from events.instance_state import InstanceStatus
from events.workflow import is_xml
from infra.event_store import EventStore
from infra.tokens import Principal
from services.common.executor import CommandExecutor, Decision
from services.definitions.service import DefinitionService, check_if_match
from services.definitions.flow_models import FlowModels
from services.common.repository import load
from services.instances.commands import (
    CompleteProcess,
    CompleteTask,
    CreateInstance,
    DeleteInstance,
    TimeOutInstance,
    FailTask,
    InstanceChanged,
    MoveOn,
    StartInstance,
    StopInstance,
    UpdateInstance,
)
from services.instances.access import may_access
from services.instances.waits import wait_for

# Stop and delete are decided again this many times when a worker's write got in first.
_RACES = 3
START_EVENT_ATTRIBUTE = "startEvent"  # the attribute keeping a scheduled instance's start event


class InstanceService:
    """Commands on process instances, addressed by id."""

    def __init__(self, store: EventStore, executor: CommandExecutor, definitions: DefinitionService, models: FlowModels) -> None:
        self.store = store
        self.executor = executor
        self.definitions = definitions
        self.models = models

    async def get(self, instance_id: UUID | str, *, version: int | None = None, until: datetime | None = None) -> ProcessInstance:
        """The live instance (or as it was at an aggregate version or a moment); NotFound otherwise."""
        try:
            uid = instance_id if isinstance(instance_id, UUID) else UUID(str(instance_id))
        except ValueError:
            raise NotFound(f"no process instance {instance_id!r}") from None
        instance = await load(self.store, uid, to_version=version, until=until)
        if not isinstance(instance, ProcessInstance) or instance.deleted:
            raise NotFound(f"no process instance {instance_id}")
        return instance

    async def visible(
        self, who: Principal, instance_id: UUID | str, *, version: int | None = None, until: datetime | None = None
    ) -> ProcessInstance:
        """`get`, for a caller who may see the instance (`access.may_access`); NotFound otherwise, as if absent.

        Who may see it is judged on the instance as it is now, also when it is read as it was.
        """
        instance = await self.get(instance_id, version=version, until=until)
        current = instance if version is None and until is None else await self.get(instance_id)
        if not may_access(who, current.initiator, current.assignment):
            raise NotFound(f"no process instance {instance_id}")
        return instance

    async def graph_of(self, instance: ProcessInstance) -> FlowGraph:
        """The graph the instance runs (its definition version, or the workflow that version named)."""
        ref = instance.attributes.get("workflow")
        if ref:
            return await self.models.graph(ref["definitionId"], ref["version"])
        return await self.models.graph(instance.definition_id, instance.definition_version)

    async def events(self, instance_id: UUID | str, after: int = 0, limit: int | None = None) -> list[Any]:
        """The live instance's domain events after an aggregate version (all, or `limit`), oldest first; NotFound otherwise."""
        instance = await self.get(instance_id)
        if limit is None:
            return await self.store.load(instance.id, after_version=after)
        return [self.store.to_domain_event(row) for row in await self.store.read_stream(instance.id, after, limit)]

    def append_signal(self) -> asyncio.Event:
        """An event set at the next append anywhere (take it before reading, then wait on it)."""
        return self.store.append_signal()

    async def wait(self, instance_id: str, done: Callable[[ProcessInstance], bool], timeout: float) -> tuple[ProcessInstance, bool]:
        """The instance once `done` holds (True), or as it is when `timeout` seconds passed (False)."""
        return await wait_for(self.store, self.get, instance_id, done, timeout)

    async def create(self, who: Principal, command: CreateInstance, idem: str | None = None) -> InstanceChanged:
        """Create an instance of a definition version, and start (or schedule) it as the command says."""
        c = command

        async def decide() -> Decision[InstanceChanged]:
            definition, _ = await self.definitions.get(c.key)
            version = definition.resolve(c.selector or LATEST)
            if version.configuration.get("enabled") is False:
                raise Conflict(f"process {c.key!r} is disabled")
            extra = dict(c.attributes or {})
            if c.start_at is not None and c.start_event is not None:
                extra[START_EVENT_ATTRIBUTE] = c.start_event
            workflow = version.configuration.get("workflow")
            if isinstance(workflow, str) and not is_xml(workflow):
                # A `#key` reference: pin the referenced definition's current version now.
                used, _ = await self.definitions.get(workflow.removeprefix("#"))
                extra["workflow"] = {"definitionId": str(used.id), "version": used.current.number}
            instance = ProcessInstance(
                definition_id=str(definition.id), definition_key=c.key, definition_version=version.number,
                initiator=who.user, owner=c.owner, target_id=c.target_id, parameters=dict(c.parameters or {}),
                form_data=dict(c.form_data or {}), documents=list(c.documents or ()), assignment=dict(c.assignment or {}),
                attributes=extra,
            )
            if c.start_at is not None:
                if c.start_event is not None:  # refuse a wrong start event now, not when the scheduler acts
                    instance.check_start(await self.graph_of(instance), c.start_event)
                instance.schedule(c.start_at, who.user)
            elif c.start:
                instance.start(await self.graph_of(instance), c.start_event, who.user)
            return Decision([instance], self._answer(instance))

        return await self.executor.run(who, idem, command, decide, InstanceChanged)

    async def start(self, who: Principal, command: StartInstance, idem: str | None = None) -> InstanceChanged:
        """Start a created instance's flow (a scheduled one at the start event it was created with, if none is given)."""

        def change(instance: ProcessInstance, graph: FlowGraph) -> None:
            instance.start(graph, command.start_event or instance.attributes.get(START_EVENT_ATTRIBUTE), who.user)

        return await self._change(who, command, idem, change)

    async def next(self, who: Principal, command: MoveOn, idem: str | None = None) -> InstanceChanged:
        """Leave the current task for the target, the action's branch, or the only reachable element."""
        # An admin's `next` vouches that data a task waits for has come (e.g. a feedback task).
        return await self._change(
            who, command, idem, lambda i, g: i.next(g, command.target, command.action, who.user, delivered=who.is_admin))

    async def update(self, who: Principal, command: UpdateInstance, idem: str | None = None) -> InstanceChanged:
        """Record form data and documents, fire a trigger if given, then set a new assignment."""

        def change(instance: ProcessInstance, graph: FlowGraph) -> None:
            # Data first, so the trigger's exit rules see what this same call carries.
            if command.form_data:
                instance.submit(command.form_data, who.user)
            if command.documents:
                instance.attach(list(command.documents), who.user)
            if command.trigger is not None:
                instance.fire(graph, command.trigger, who.user)
            if command.assignment is not None:
                instance.assign(command.assignment, who.user)

        return await self._change(who, command, idem, change)

    async def complete_process(self, who: Principal, command: CompleteProcess, idem: str | None = None) -> InstanceChanged:
        """Move task by task towards an end; `problems` says where and why it stopped.

        At an automated task it waits (at most `command.wait_seconds` in all) for the worker to
        finish it, then goes on; when the time is up it answers with the task still running.
        """
        deadline = asyncio.get_running_loop().time() + command.wait_seconds
        result = await self._change(who, command, idem, lambda i, g: i.complete_process(g, who.user))
        onward = replace(command, if_match=None)  # the caller's If-Match was for the first step only
        while not result.problems and result.status == InstanceStatus.RUNNING:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            instance, _ = await self.wait(result.id, lambda i: i.status is not InstanceStatus.RUNNING, left)
            if instance.status is not InstanceStatus.WAITING:
                return self._answer(instance)
            result = await self._change(who, onward, None, lambda i, g: i.complete_process(g, who.user))
        return result

    async def complete_task(self, who: Principal, command: CompleteTask, idem: str | None = None) -> InstanceChanged:
        """A worker finished an automated task: the flow moves on."""
        return await self._change(
            who, command, idem, lambda i, g: i.complete_automated(g, command.element_id, command.result, who.user),
            retries=_RACES,
        )

    async def fail_task(self, who: Principal, command: FailTask, idem: str | None = None) -> InstanceChanged:
        """A worker could not finish an automated task: the instance fails."""
        return await self._change(
            who, command, idem, lambda i, g: i.fail_automated(g, command.element_id, command.error, who.user),
            retries=_RACES,
        )

    async def stop(self, who: Principal, command: StopInstance, idem: str | None = None) -> InstanceChanged:
        """Stop the instance (idempotent once it is over)."""
        # A running script appends output all the time: decide again rather than refuse the stop.
        return await self._change(who, command, idem, lambda i, g: i.stop(who.user, command.reason), retries=_RACES)

    async def time_out(self, who: Principal, command: TimeOutInstance, idem: str | None = None) -> InstanceChanged:
        """Fail the instance as timed out if its deadline has passed by `command.now` (else nothing changes)."""
        return await self._change(who, command, idem, lambda i, g: i.time_out(g, command.now, who.user), retries=_RACES)

    async def delete(self, who: Principal, command: DeleteInstance, idem: str | None = None) -> InstanceChanged:
        """Tombstone the instance."""
        return await self._change(who, command, idem, lambda i, g: i.delete(who.user, command.reason), retries=_RACES)

    async def _change(
        self, who: Principal, command: Any, idem: str | None, change: Callable[[ProcessInstance, FlowGraph], Any],
        *, retries: int = 0,
    ) -> InstanceChanged:
        """Decide on the current instance and append; `retries` re-decides after a version conflict.

        A worker's outcome, stop and delete retry: they hold whatever the instance became
        meanwhile (a running script appends its output all the time; its last lines may land
        just before the outcome), where a user's move along the flow must not.
        """
        async def decide() -> Decision[InstanceChanged]:
            instance = await self.get(command.instance_id)
            if not may_access(who, instance.initiator, instance.assignment):
                raise NotFound(f"no process instance {command.instance_id}")
            check_if_match(instance, getattr(command, "if_match", None))
            outcome = change(instance, await self.graph_of(instance))
            return Decision([instance], self._answer(instance, outcome if isinstance(outcome, list) else []))

        return await self.executor.run(who, idem, command, decide, InstanceChanged, retries=retries)

    @staticmethod
    def _answer(instance: ProcessInstance, problems: list[str] | None = None) -> InstanceChanged:
        return InstanceChanged(str(instance.id), instance.version, str(instance.status), instance.element, problems or [])
