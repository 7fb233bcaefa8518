"""Process instance commands: load the instance and its graph, call the domain, save.

Every command answers `{"id", "etag", ...}`; the etag is the instance's aggregate version.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from events.definition import LATEST
from events.engine import start_step
from events.errors import Conflict, NotFound
from events.flow import FlowGraph
from events.instance import ProcessInstance
from events.workflow import is_xml
from infra.event_store import EventStore
from infra.tokens import Principal
from services.common.executor import CommandExecutor, Decision
from services.definitions.service import DefinitionService, check_if_match
from services.definitions.flow_models import FlowModels
from services.common.repository import load

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

    async def graph_of(self, instance: ProcessInstance) -> FlowGraph:
        """The graph the instance runs (its definition version, or the workflow that version named)."""
        ref = instance.attributes.get("workflow")
        if ref:
            return await self.models.graph(ref["definitionId"], ref["version"])
        return await self.models.graph(instance.definition_id, instance.definition_version)

    async def create(
        self, who: Principal, key: str, selector: str | None, *, owner: str | None = None, target_id: str | None = None,
        parameters: dict[str, Any] | None = None, form_data: dict[str, Any] | None = None, documents: list[str] | None = None,
        assignment: dict[str, Any] | None = None, attributes: dict[str, Any] | None = None,
        start: bool = True, start_event: str | None = None, idem: str | None = None, start_at: datetime | None = None,
    ) -> dict[str, Any]:
        """Create an instance of a definition version (latest, number or tag), and start it if asked.

        With `start_at` the instance is scheduled instead; the scheduler starts it then, at
        `start_event`, which is kept in the attributes (`startEvent`) until that start.
        """

        async def decide() -> Decision:
            definition, _ = await self.definitions.get(key)
            version = definition.resolve(selector or LATEST)
            if version.configuration.get("enabled") is False:
                raise Conflict(f"process {key!r} is disabled")
            extra = dict(attributes or {})
            if start_at is not None and start_event is not None:
                extra[START_EVENT_ATTRIBUTE] = start_event
            workflow = version.configuration.get("workflow")
            if isinstance(workflow, str) and not is_xml(workflow):
                # A `#key` reference: pin the referenced definition's current version now.
                used, _ = await self.definitions.get(workflow.removeprefix("#"))
                extra["workflow"] = {"definitionId": str(used.id), "version": used.current.number}
            instance = ProcessInstance(
                definition_id=str(definition.id), definition_key=key, definition_version=version.number,
                initiator=who.user, owner=owner, target_id=target_id, parameters=parameters or {},
                form_data=form_data or {}, documents=documents or [], assignment=assignment or {}, attributes=extra,
            )
            if start_at is not None:
                if start_event is not None:  # refuse a wrong start event now, not when the scheduler acts
                    start_step(await self.graph_of(instance), start_event, instance.facts())
                instance.schedule(start_at, who.user)
            elif start:
                instance.start(await self.graph_of(instance), start_event, who.user)
            return Decision([instance], self._answer(instance))

        request = ("create", key, selector, owner, target_id, parameters, form_data, documents, assignment,
                   attributes, start, start_event, start_at)
        return await self.executor.run(who, idem, decide, request=request)

    async def start(self, who: Principal, instance_id: str, start_event: str | None, if_match: int | None, idem: str | None) -> dict[str, Any]:
        """Start a created instance's flow (a scheduled one at the start event it was created with, if none is given)."""

        def command(instance: ProcessInstance, graph: FlowGraph) -> None:
            instance.start(graph, start_event or instance.attributes.get(START_EVENT_ATTRIBUTE), who.user)

        return await self._change(who, instance_id, if_match, idem, command, ("start", start_event))

    async def next(
        self, who: Principal, instance_id: str, target: str | None, action: str | None, if_match: int | None, idem: str | None
    ) -> dict[str, Any]:
        """Leave the current task for `target` or the only reachable element."""
        return await self._change(who, instance_id, if_match, idem, lambda i, g: i.next(g, target, action, who.user),
                                  ("next", target, action))

    async def update(
        self, who: Principal, instance_id: str, *, trigger: str | None = None, form_data: dict[str, Any] | None = None,
        documents: list[str] | None = None, assignment: dict[str, Any] | None = None,
        if_match: int | None = None, idem: str | None = None,
    ) -> dict[str, Any]:
        """Record form data and documents, fire a trigger if given, then set a new assignment."""

        def command(instance: ProcessInstance, graph: FlowGraph) -> None:
            # Data first, so the trigger's exit rules see what this same call carries.
            if form_data:
                instance.submit(form_data, who.user)
            if documents:
                instance.attach(documents, who.user)
            if trigger is not None:
                instance.fire(graph, trigger, who.user)
            if assignment is not None:
                instance.assign(assignment, who.user)

        request = ("update", trigger, form_data, documents, assignment)
        return await self._change(who, instance_id, if_match, idem, command, request)

    async def complete_process(self, who: Principal, instance_id: str, if_match: int | None, idem: str | None) -> dict[str, Any]:
        """Move task by task towards an end; `problems` says where and why it stopped."""
        return await self._change(who, instance_id, if_match, idem, lambda i, g: {"problems": i.complete_process(g, who.user)},
                                  ("completeProcess",))

    async def complete_task(self, who: Principal, instance_id: str, element_id: str, result: dict[str, Any], idem: str | None = None) -> dict[str, Any]:
        """A worker finished an automated task: the flow moves on."""
        return await self._change(who, instance_id, None, idem, lambda i, g: i.complete_automated(g, element_id, result, who.user),
                                  ("completeTask", element_id, result))

    async def fail_task(self, who: Principal, instance_id: str, element_id: str, error: str, idem: str | None = None) -> dict[str, Any]:
        """A worker could not finish an automated task: the instance fails."""
        return await self._change(who, instance_id, None, idem, lambda i, g: i.fail_automated(element_id, error),
                                  ("failTask", element_id, error))

    async def stop(self, who: Principal, instance_id: str, reason: str | None, idem: str | None = None) -> dict[str, Any]:
        """Stop the instance (idempotent once it is over)."""
        return await self._change(who, instance_id, None, idem, lambda i, g: i.stop(who.user, reason), ("stop", reason))

    async def delete(self, who: Principal, instance_id: str, reason: str | None, idem: str | None = None) -> dict[str, Any]:
        """Tombstone the instance."""
        return await self._change(who, instance_id, None, idem, lambda i, g: i.delete(who.user, reason), ("delete", reason))

    async def _change(
        self, who: Principal, instance_id: str, if_match: int | None, idem: str | None,
        command: Callable[[ProcessInstance, FlowGraph], Any], request: tuple[Any, ...],
    ) -> dict[str, Any]:
        async def decide() -> Decision:
            instance = await self.get(instance_id)
            check_if_match(instance, if_match)
            outcome = command(instance, await self.graph_of(instance))
            answer = self._answer(instance)
            if isinstance(outcome, dict):
                answer.update(outcome)
            return Decision([instance], answer)

        return await self.executor.run(who, idem, decide, request=(*request, instance_id, if_match))

    @staticmethod
    def _answer(instance: ProcessInstance) -> dict[str, Any]:
        return {"id": str(instance.id), "etag": instance.version, "status": str(instance.status), "element": instance.element}
