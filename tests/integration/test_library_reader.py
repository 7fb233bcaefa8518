"""eventsourcing's own PostgreSQL reader loads the aggregates our event store wrote.

Our table keeps the library's application-recorder layout under the name the library gives
an application called "procession", so the library (and its tools) can read our log.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import asyncpg
from eventsourcing.application import Application
from eventsourcing.persistence import Transcoder

from infra.event_store import EventStore
from infra.transcoder import OrjsonTranscoder
from tests.factories import a_claim, a_definition, fold, state


class ProcessionReader(Application):
    """A read-only view of our log through the library; its name selects `procession_events`."""

    name = "procession"

    def construct_transcoder(self) -> Transcoder:
        return OrjsonTranscoder()


async def library_env(database_url: str, pool: asyncpg.Pool) -> dict[str, str]:
    """The library's settings for the test database (a unix socket directory is a host too)."""
    url = urlsplit(database_url)
    query = parse_qs(url.query)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": url.path.lstrip("/"),
        "POSTGRES_HOST": query["host"][0] if "host" in query else (url.hostname or "localhost"),
        # The server says which port it serves, which also names its socket file.
        "POSTGRES_PORT": str(await pool.fetchval("SELECT current_setting('port')")),
        "POSTGRES_USER": unquote(url.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
        # Our schema owns the table; the library must not try to create its own.
        "CREATE_TABLE": "n",
    }


def read_with_library(env: dict[str, str], aggregate_id: Any) -> Any:
    app = ProcessionReader(env=env)
    try:
        return app.repository.get(aggregate_id)
    finally:
        app.close()


async def test_the_librarys_postgres_reader_loads_our_definitions(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    definition = a_definition("invoice", versions=3, tags={"prod": 2, "beta": 3})
    definition.rename("bill", "alice")
    definition.rollback("alice")
    await store.append([*definition.collect_events(), *a_claim(definition).collect_events()])
    ours = fold(await store.load(definition.id))
    env = await library_env(database_url, pool)

    theirs = await asyncio.to_thread(read_with_library, env, definition.id)

    assert type(theirs) is type(ours)
    assert state(theirs) == state(ours)
    assert (theirs.key, theirs.tags, sorted(theirs.versions)) == ("bill", {"prod": 2}, [1, 2])
    assert theirs == ours
