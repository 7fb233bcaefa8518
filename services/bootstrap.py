"""The composition root: builds the runtime (database, store, projections, services) once."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg

from infra.blob_store import BlobStore
from infra.event_store import EventStore
from infra.postgres import create_pool, migrate, ping, start_embedded
from infra.projection_runner import ProjectionRunner
from infra.settings import Settings
from infra.tokens import TokenStore
from infra.transcoder import create_mapper
from projections import definitions as definitions_projection
from projections import instances as instances_projection
from projections import script_processes as script_processes_projection
from projections import script_tasks as script_tasks_projection
from services.audit.log import AuditLog
from services.common.executor import CommandExecutor
from services.definitions.queries import DefinitionViews
from services.definitions.service import DefinitionService
from services.definitions.flow_models import FlowModels
from services.instances.queries import InstanceViews
from services.instances.service import InstanceService
from services.scripts.output import ProcessOutput
from services.scripts.queries import ProcessViews
from services.scripts.service import ScriptProcessService
from services.scripts.registry import ScriptRegistry
from services.scripts.runner import LocalRuns, ScriptRunner

PROJECTIONS = (
    definitions_projection.PROJECTION, instances_projection.PROJECTION,
    script_tasks_projection.PROJECTION, script_processes_projection.PROJECTION,
)


@dataclass
class Runtime:
    """Everything a handler, worker or CLI command needs, built in one place."""

    settings: Settings
    pool: asyncpg.Pool
    store: EventStore
    projections: ProjectionRunner
    tokens: TokenStore
    definitions: DefinitionService
    definition_views: DefinitionViews
    instances: InstanceService
    instance_views: InstanceViews
    models: FlowModels
    registry: ScriptRegistry
    blobs: BlobStore
    scripts: ScriptProcessService
    process_views: ProcessViews
    output: ProcessOutput
    script_runner: ScriptRunner
    local_runs: LocalRuns
    audit: AuditLog

    async def ping(self) -> None:
        """Raise unless the database answers."""
        await ping(self.pool)


async def database_url(settings: Settings) -> str:
    """The configured PostgreSQL, or the embedded one started under the data dir."""
    return settings.database_url or await start_embedded(settings.data_dir)


@contextlib.asynccontextmanager
async def runtime(settings: Settings, *, follow: bool = True) -> AsyncIterator[Runtime]:
    """Open the runtime; with `follow` the projections run in the background."""
    pool = await create_pool(await database_url(settings), size=settings.pool_size)
    store = EventStore(pool, create_mapper())
    runner = ProjectionRunner(store, PROJECTIONS)
    tokens = TokenStore(pool, cache_seconds=settings.token_cache_seconds)
    try:
        await migrate(pool)
        await store.start()
        await tokens.start()
        await (runner.start() if follow else runner.prepare())
        executor = CommandExecutor(store, runner, consistency_timeout=settings.consistency_timeout_seconds)
        definitions = DefinitionService(store, executor, max_workflow_bytes=settings.max_workflow_bytes)
        models = FlowModels(store, max_workflow_bytes=settings.max_workflow_bytes)
        instances = InstanceService(store, executor, definitions, models)
        registry = ScriptRegistry.load(settings.scripts_dir)
        blobs = BlobStore(settings.data_dir / "blobs", max_bytes=settings.max_blob_bytes)
        local_runs = LocalRuns()
        yield Runtime(
            settings=settings,
            pool=pool,
            store=store,
            projections=runner,
            tokens=tokens,
            definitions=definitions,
            definition_views=DefinitionViews(pool),
            instances=instances,
            instance_views=InstanceViews(pool),
            models=models,
            registry=registry,
            blobs=blobs,
            scripts=ScriptProcessService(
                store, instances, definitions, registry, blobs, local_runs,
                lease_seconds=settings.script_lease_seconds, max_files=settings.max_script_files,
            ),
            process_views=ProcessViews(pool),
            output=ProcessOutput(store, blobs),
            script_runner=ScriptRunner(
                store, registry, blobs, settings.data_dir / "runs",
                stop_grace_seconds=settings.script_stop_grace_seconds, max_files=settings.max_script_files,
            ),
            local_runs=local_runs,
            audit=AuditLog(store),
        )
    finally:
        await runner.stop()
        await tokens.stop()
        await store.stop()
        await pool.close()
