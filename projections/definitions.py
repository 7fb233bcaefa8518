"""The definitions read model: each live definition, its versions and its tags."""

from __future__ import annotations

import hashlib
from typing import Any

from events.definition import ProcessDefinition as D
from projections.base import Projection

SCHEMA = """
CREATE TABLE IF NOT EXISTS definition_view (
    definition_id uuid PRIMARY KEY,
    key text NOT NULL UNIQUE,
    current_version int NOT NULL DEFAULT 0,
    configuration jsonb NOT NULL DEFAULT '{}',
    aggregate_version bigint NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    updated_by text NOT NULL
);
CREATE TABLE IF NOT EXISTS definition_version_view (
    definition_id uuid NOT NULL,
    version int NOT NULL,
    object_id text NOT NULL,
    configuration jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    username text NOT NULL,
    PRIMARY KEY (definition_id, version)
);
CREATE TABLE IF NOT EXISTS definition_tag_view (
    definition_id uuid NOT NULL,
    tag text NOT NULL,
    version int NOT NULL,
    PRIMARY KEY (definition_id, tag)
);
"""


def object_id(definition_id: Any, version: int) -> str:
    """The stable 24-hex id of one version (what OpenDataDSL calls an object id)."""
    return hashlib.sha256(f"{definition_id}:{version}".encode()).hexdigest()[:24]


async def _touch(conn: Any, event: Any) -> None:
    await conn.execute(
        "UPDATE definition_view SET aggregate_version = $2, updated_at = $3, updated_by = $4"
        " WHERE definition_id = $1",
        event.originator_id, event.originator_version, event.timestamp, event.user,
    )


async def _refresh_current(conn: Any, definition_id: Any) -> None:
    await conn.execute(
        "UPDATE definition_view d SET current_version = v.version, configuration = v.configuration"
        " FROM (SELECT version, configuration FROM definition_version_view WHERE definition_id = $1"
        "       ORDER BY version DESC LIMIT 1) v WHERE d.definition_id = $1",
        definition_id,
    )


async def registered(conn: Any, event: D.Registered, _position: int) -> None:
    await conn.execute(
        "INSERT INTO definition_view (definition_id, key, aggregate_version, created_at, updated_at, updated_by)"
        " VALUES ($1, $2, $3, $4, $4, $5)",
        event.originator_id, event.key, event.originator_version, event.timestamp, event.user,
    )


async def versions_created(conn: Any, run: list[tuple[D.VersionCreated, int]]) -> None:
    events = [event for event, _position in run]
    await conn.executemany(
        "INSERT INTO definition_version_view VALUES ($1, $2, $3, $4, $5, $6)",
        [(e.originator_id, e.version, object_id(e.originator_id, e.version), e.configuration, e.timestamp, e.user)
         for e in events],
    )
    # Version numbers only grow, so a new version is the current one (rows apply in order).
    await conn.executemany(
        "UPDATE definition_view SET current_version = $2, configuration = $3, aggregate_version = $4,"
        " updated_at = $5, updated_by = $6 WHERE definition_id = $1",
        [(e.originator_id, e.version, e.configuration, e.originator_version, e.timestamp, e.user) for e in events],
    )


async def tagged(conn: Any, event: D.Tagged, _position: int) -> None:
    await conn.execute(
        "INSERT INTO definition_tag_view VALUES ($1, $2, $3)"
        " ON CONFLICT (definition_id, tag) DO UPDATE SET version = excluded.version",
        event.originator_id, event.tag, event.version,
    )
    await _touch(conn, event)


async def tag_removed(conn: Any, event: D.TagRemoved, _position: int) -> None:
    await conn.execute(
        "DELETE FROM definition_tag_view WHERE definition_id = $1 AND tag = $2", event.originator_id, event.tag
    )
    await _touch(conn, event)


async def renamed(conn: Any, event: D.Renamed, _position: int) -> None:
    await conn.execute("UPDATE definition_view SET key = $2 WHERE definition_id = $1", event.originator_id, event.new_key)
    await _touch(conn, event)


async def version_removed(conn: Any, event: D.VersionRemoved, _position: int) -> None:
    for table in ("definition_version_view", "definition_tag_view"):
        await conn.execute(f"DELETE FROM {table} WHERE definition_id = $1 AND version = $2", event.originator_id, event.version)
    await _refresh_current(conn, event.originator_id)
    await _touch(conn, event)


async def deleted(conn: Any, event: D.Deleted, _position: int) -> None:
    for table in ("definition_view", "definition_version_view", "definition_tag_view"):
        await conn.execute(f"DELETE FROM {table} WHERE definition_id = $1", event.originator_id)


PROJECTION = Projection(
    name="definitions",
    schema=SCHEMA,
    tables=("definition_view", "definition_version_view", "definition_tag_view"),
    handlers={
        D.Registered: registered,
        D.Tagged: tagged,
        D.TagRemoved: tag_removed,
        D.Renamed: renamed,
        D.VersionRemoved: version_removed,
        D.Deleted: deleted,
    },
    batch_handlers={D.VersionCreated: versions_created},
)
