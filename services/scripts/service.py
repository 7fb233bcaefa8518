"""Starting, stopping and awaiting script processes: the one service DSpace and Concord share.

A registered script started ad hoc runs as an instance of a system definition `script.<name>`
(created on first use, one version per script), so every face sees it like any other
instance. Arguments are checked against the script's parameters before anything is stored
(422 naming each bad one); input files go to the blob store and are named in the instance's
attributes (`inputFiles`), from where the runner copies them into the working directory (a
name may be a relative path: `docs/a.txt` lands in `docs/`).
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from events.definition import LATEST
from events.errors import InvalidInput, NotFound
from events.instance import ProcessInstance
from events.instance_state import InstanceStatus
from infra.blob_store import BlobStore
from infra.event_store import EventStore
from infra.tokens import Principal
from services.common.principals import SYSTEM
from services.definitions.commands import SaveDefinition
from services.definitions.service import DefinitionService
from services.instances.commands import CreateInstance, InstanceChanged, StopInstance
from services.instances.waits import settled
from services.instances.service import InstanceService
from infra.run_claims import RunClaims
from services.scripts.descriptor import ScriptDescriptor
from services.scripts.registry import ScriptRegistry, check_arguments, is_file_path
from services.scripts.commands import RetryProcess, StartProcess, StopProcess
from services.scripts.runner import LocalRuns

SCRIPT_PREFIX = "script."

log = logging.getLogger(__name__)


class ScriptProcessService:
    """See the module docstring."""

    def __init__(self, store: EventStore, instances: InstanceService, definitions: DefinitionService,
                 registry: ScriptRegistry, blobs: BlobStore, local: LocalRuns, *, lease_seconds: float, max_files: int) -> None:
        self.store = store
        self.pool: asyncpg.Pool = store.pool
        self.instances = instances
        self.definitions = definitions
        self.registry = registry
        self.blobs = blobs
        self.local = local
        self.lease_seconds = lease_seconds
        self.max_files = max_files
        self._ensured: set[str] = set()

    async def start(self, who: Principal, command: StartProcess, idem: str | None = None) -> InstanceChanged:
        """Start (or schedule, when `start_at` is in the future) a script or a definition."""
        c = command
        if (c.script is None) == (c.definition is None):
            raise InvalidInput("name exactly one of a script or a definition", ["script/definition: exactly one is required"])
        self._check_files(c.files)
        if c.script is not None:
            descriptor, key, selector, defaults = self.registry.get(c.script), SCRIPT_PREFIX + c.script, None, {}
        else:
            descriptor, defaults = await self._definition_script(c.definition, c.selector)  # type: ignore[arg-type]
            key, selector = c.definition, c.selector  # type: ignore[assignment]
        parameters = dict(c.arguments)
        if descriptor is not None:
            # Defaults (the configuration's `input`) for the script's own parameters, unless given.
            given = {p.key for k in parameters if (p := descriptor.parameter(str(k))) is not None}
            unset = {k: v for k, v in defaults.items() if (p := descriptor.parameter(str(k))) is not None and p.key not in given}
            parameters = check_arguments(descriptor, {**unset, **parameters}, set(c.files))
        else:
            parameters = {**defaults, **parameters}
        stored = {name: await self.blobs.put_bytes(data) for name, data in c.files.items()}
        extra = {**c.attributes, "inputFiles": {n: {"sha256": b.sha256, "size": b.size} for n, b in stored.items()}}
        if descriptor is not None:
            extra["script"] = descriptor.name
            # The names the caller used (`c`, `-c`, `--collection`), so a face can answer in them.
            sent = {p.key: str(k) for k in c.arguments if (p := descriptor.parameter(str(k))) is not None}
            if sent:
                extra["parameterNames"] = sent
        later = c.start_at if c.start_at is not None and c.start_at > datetime.now(UTC) else None
        create = CreateInstance(key, selector, parameters=parameters, attributes=extra, start_at=later, start_event=c.start_event,
                                target_id=c.target_id, form_data=c.form_data, documents=c.documents, assignment=dict(c.assignment or {}))
        if c.script is not None:
            await self._ensure_definition(descriptor)  # type: ignore[arg-type]
        try:
            return await self.instances.create(who, create, idem)
        except NotFound:
            if c.script is None or descriptor.name not in self._ensured:  # type: ignore[union-attr]
                raise
            self._ensured.discard(descriptor.name)  # type: ignore[union-attr]  # someone deleted it: make it again
            await self._ensure_definition(descriptor)  # type: ignore[arg-type]
            return await self.instances.create(who, create, idem)

    async def retry(self, who: Principal, command: RetryProcess, idem: str | None = None) -> InstanceChanged:
        """A failed script run, again, as a new run (InvalidInput for anything else)."""
        instance = await self.instances.visible(who, command.instance_id)
        if instance.status is not InstanceStatus.FAILED or "script" not in instance.attributes:
            raise InvalidInput(f"process {instance.id} is {instance.status}, not a failed script run",
                               ["retry: only a failed script run can be retried"])
        files = {name: await self.blobs.read(info["sha256"])
                 for name, info in (instance.attributes.get("inputFiles") or {}).items()}
        again = StartProcess(
            definition=instance.definition_key, selector=str(instance.definition_version),
            arguments=instance.parameters, files=files, attributes={"retryOf": str(instance.id)},
        )
        return await self.start(who, again, idem)

    async def stop(self, who: Principal, command: StopProcess, idem: str | None = None) -> InstanceChanged:
        """Stop a process (idempotent): a running script is killed; the instance ends stopped."""
        reason = f"stopped by {who.user}"
        answer = await self.instances.stop(who, StopInstance(command.instance_id, reason, command.if_match), idem)
        uid = UUID(answer.id)
        if self.local.stop_instance(uid, "requested"):
            log.info("stop of %s: its script run here was told to stop", uid)
            return answer
        # Nobody here runs it: if no live worker holds the run either, finish the stop ourselves.
        claims = RunClaims(self.pool, f"stopper:{uid}", lease_seconds=self.lease_seconds)
        for key in await claims.open_runs(uid):
            if await claims.take(key):
                with contextlib.suppress(NotFound):
                    answer = await self.instances.stop(SYSTEM, StopInstance(command.instance_id, reason))
                await claims.finish(key)
                log.info("stop of %s: its run %s had not started; stopped here", uid, key[1])
            else:
                log.info("stop of %s: run %s is held by another worker, which will stop it", uid, key[1])
        return answer

    async def wait(self, instance_id: str, timeout: float) -> ProcessInstance:
        """The instance once it is over or waits on a person, or as it is when `timeout` passes."""
        instance, _ = await self.instances.wait(instance_id, settled, timeout)
        return instance

    async def _definition_script(self, key: str, selector: str | None) -> tuple[ScriptDescriptor | None, dict[str, Any]]:
        definition, _ = await self.definitions.get(key)
        configuration = definition.resolve(selector or LATEST).configuration
        defaults = configuration.get("input") if isinstance(configuration.get("input"), dict) else {}
        name = configuration.get("script")
        return (self.registry.get(name) if name else None), dict(defaults)

    async def _ensure_definition(self, script: ScriptDescriptor) -> None:
        if script.name in self._ensured:
            return
        configuration = {"name": script.name, "description": script.description or f"ad hoc runs of {script.name}",
                         "script": script.name}
        await self.definitions.save(SYSTEM, SaveDefinition(SCRIPT_PREFIX + script.name, configuration))
        self._ensured.add(script.name)

    def _check_files(self, files: dict[str, bytes]) -> None:
        problems = [f"file {name[:80]!r}: must be a relative file path (no '..', no leading '/')"
                    for name in files if not is_file_path(name)]
        if len(files) > self.max_files:
            problems.append(f"file: at most {self.max_files} files")
        if problems:
            raise InvalidInput("invalid input files", problems)

