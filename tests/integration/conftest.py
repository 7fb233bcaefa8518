"""Integration fixtures: started event stores and projection runners on real PostgreSQL.

A second pool and a second store stand in for another service process on the same database.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from infra.event_store import EventStore
from infra.postgres import create_pool
from infra.projection_runner import ProjectionRunner
from infra.transcoder import create_mapper
from services.bootstrap import PROJECTIONS
from services.common.executor import CommandExecutor
from services.definitions.service import DefinitionService


@pytest.fixture
async def store(pool: asyncpg.Pool) -> AsyncIterator[EventStore]:
    """This process's event store, started."""
    store = EventStore(pool, create_mapper())
    await store.start()
    yield store
    await store.stop()


@pytest.fixture
async def other_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A second pool on the same database, as another process would have."""
    pool = await create_pool(database_url, size=5)
    yield pool
    await asyncio.wait_for(pool.close(), 10)


@pytest.fixture
async def other_store(other_pool: asyncpg.Pool) -> AsyncIterator[EventStore]:
    """Another process's event store, started."""
    store = EventStore(other_pool, create_mapper())
    await store.start()
    yield store
    await store.stop()


@pytest.fixture
async def runner(store: EventStore) -> AsyncIterator[ProjectionRunner]:
    """The service's projections on this process's store, prepared but not following."""
    runner = ProjectionRunner(store, PROJECTIONS)
    await runner.prepare()
    yield runner
    await runner.stop()


@pytest.fixture
async def definitions(store: EventStore, runner: ProjectionRunner) -> AsyncIterator[DefinitionService]:
    """The definition commands, with the projections following so that commands read their writes."""
    await runner.start()
    executor = CommandExecutor(store, runner, consistency_timeout=10)
    yield DefinitionService(store, executor, max_workflow_bytes=1_048_576)
