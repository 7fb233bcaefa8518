"""The composition root: builds the runtime (database, store, projections, services) once."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg

from events.concord.runtime import RunLimits
from infra.aggregate_cache import AggregateCache
from infra.blob_store import BlobStore
from infra.event_store import EventStore
from infra.leases import Lease
from infra.postgres import create_pool, migrate, migrations_applied, ping, start_embedded
from infra.projection_runner import ProjectionRunner
from infra.sessions import SessionStore
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
from services.instances.concord import ConcordForms
from services.instances.service import InstanceService
from services.scripts.output import ProcessOutput
from services.scripts.queries import ProcessViews
from services.scripts.service import ScriptProcessService
from services.scripts.registry import ScriptRegistry
from services.scripts.runner import LocalRuns, ScriptRunner
from services.scheduling.queries import ScheduleViews

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
    sessions: SessionStore
    audit: AuditLog
    concord_forms: ConcordForms
    schedule_views: ScheduleViews

    async def ping(self) -> None:
        """Raise unless the database answers."""
        await ping(self.pool)


async def database_url(settings: Settings) -> str:
    """The configured PostgreSQL, or the embedded one started under the data dir."""
    return settings.database_url or await start_embedded(settings.data_dir)


class SchemaOutdated(RuntimeError):
    """The database does not hold this build's schema; `procession db migrate` puts it there."""


MIGRATIONS = [p.schema for p in PROJECTIONS]


async def migrate_all(pool: asyncpg.Pool) -> None:
    """The store's schema and every projection's tables, under the migration lock."""
    await migrate(pool, MIGRATIONS)


async def schema_ready(pool: asyncpg.Pool) -> bool:
    """Whether this build's migrations are applied."""
    return await migrations_applied(pool, MIGRATIONS)


@contextlib.asynccontextmanager
async def runtime(settings: Settings, *, follow: bool = True, migrate: bool | None = None) -> AsyncIterator[Runtime]:
    """Open the runtime; with `follow` the projections run in the background.

    `migrate` (default: when following, as `serve` does) applies the migrations first;
    otherwise a database without this build's schema is refused with SchemaOutdated.
    """
    pool = await create_pool(await database_url(settings), size=settings.pool_size)
    cache = AggregateCache(settings.aggregate_cache_aggregates, settings.aggregate_cache_events)
    store = EventStore(pool, create_mapper(), cache=cache)
    runner = ProjectionRunner(
        store, PROJECTIONS, lease=Lease(pool, "projections", ttl_seconds=settings.singleton_lease_seconds)
    )
    tokens = TokenStore(pool, cache_seconds=settings.token_cache_seconds)
    try:
        migrating = follow if migrate is None else migrate
        if migrating:
            await migrate_all(pool)
        elif not await schema_ready(pool):
            raise SchemaOutdated("the database schema is not this version's; run `procession db migrate`")
        await store.start()
        await tokens.start()
        if follow:
            await runner.start(prepare=False)  # the migrations created the projections' tables
        executor = CommandExecutor(store, runner, consistency_timeout=settings.consistency_timeout_seconds)
        definitions = DefinitionService(store, executor, max_workflow_bytes=settings.max_workflow_bytes)
        models = FlowModels(store, max_workflow_bytes=settings.max_workflow_bytes, concord_limits=RunLimits(
            settings.concord_step_budget, settings.concord_max_call_depth, settings.concord_max_loop_items))
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
            sessions=SessionStore(pool, idle_seconds=settings.portal_session_idle_seconds),
            audit=AuditLog(store),
            concord_forms=ConcordForms(instances, blobs),
            schedule_views=ScheduleViews(pool),
        )
    finally:
        await runner.stop()
        await tokens.stop()
        await store.stop()
        await pool.close()
