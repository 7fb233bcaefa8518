"""Reads of process definitions: plain SQL against the definitions read model, as typed read models."""

from __future__ import annotations

import re
from typing import Any

import asyncpg

from events.definition import LATEST, ProcessDefinition, Version
from events.errors import MalformedInput, NotFound
from projections.definitions import object_id
from services.definitions.models import ConfigurationVersion, DefinitionQuery, VersionSummary

_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def version_of(definition: ProcessDefinition, version: Version | None = None) -> ConfigurationVersion:
    """A version of a loaded aggregate (the current one by default) as a read model."""
    current = definition.current
    version = version or current
    version_id = None if version.number == current.number else object_id(definition.id, version.number)
    return ConfigurationVersion(definition.key, version.number, version.configuration, version.timestamp,
                                version.user, version_id)


def _column(name: str, *, as_json: bool = False) -> str:
    """The SQL for a configuration field; only names that cannot break out of the literal reach here."""
    if not _FIELD.fullmatch(name):
        raise MalformedInput(f"invalid field name {name[:64]!r}", [f"{name[:64]}: invalid field name"])
    if name == "_id":
        return "key"
    return f"configuration->'{name}'" if as_json else f"configuration->>'{name}'"


def _require_storable(key: str, selector: str = "") -> None:
    """A NUL is never in a stored key or tag, and PostgreSQL text cannot even be asked about one."""
    if "\x00" in key:
        raise NotFound(f"no process called {key!r}")
    if "\x00" in selector:
        raise NotFound(f"process {key!r} has no version or tag {selector!r}")


class DefinitionViews:
    """Queries over the definitions read model."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def list(self, query: DefinitionQuery) -> list[ConfigurationVersion]:
        """The current configurations, filtered by `field=value`, sorted and paged."""
        clause, args = self._where(query)
        order = [f"{_column(name)} {'DESC' if descending else 'ASC'} NULLS LAST" for name, descending in query.sort]
        # The current version's own time and author, as `current()` gives them (not the
        # definition's last change, which may be a tag).
        rows = await self.pool.fetch(
            f"SELECT key, current_version, configuration, version_at, version_by FROM definition_view d,"
            f" LATERAL (SELECT v.created_at AS version_at, v.username AS version_by FROM definition_version_view v"
            f" WHERE v.definition_id = d.definition_id AND v.version = d.current_version) v"
            f" {clause} ORDER BY {', '.join([*order, 'key ASC'])} {self._paging(query)}", *args,
        )
        return [
            ConfigurationVersion(r["key"], r["current_version"], r["configuration"], r["version_at"], r["version_by"])
            for r in rows
        ]

    async def distinct(self, query: DefinitionQuery) -> list[Any]:
        """The distinct values of `query.distinct` over the filtered configurations (JSON values, not text)."""
        if query.distinct is None:
            raise MalformedInput("no field to list distinct values of", ["_distinct: required"])
        for name, _ in query.sort:  # values come sorted by themselves, but a bad _sort is 400 as on the list
            _column(name)
        clause, args = self._where(query)
        rows = await self.pool.fetch(
            f"SELECT DISTINCT {_column(query.distinct, as_json=True)} AS value FROM definition_view {clause}"
            f" ORDER BY 1 {self._paging(query)}", *args,
        )
        return [r["value"] for r in rows if r["value"] is not None]

    @staticmethod
    def _where(query: DefinitionQuery) -> tuple[str, list[str]]:
        where, args = [], []
        for name, value in query.filters:
            if "\x00" in value:
                raise MalformedInput(f"invalid filter value for {name[:64]}", [f"{name[:64]}: contains a NUL character"])
            args.append(value)
            where.append(f"{_column(name)} = ${len(args)}")
        return (f"WHERE {' AND '.join(where)}" if where else ""), args

    @staticmethod
    def _paging(query: DefinitionQuery) -> str:
        return f"OFFSET {int(query.skip)}" + (f" LIMIT {int(query.limit)}" if query.limit is not None else "")

    async def current(self, key: str) -> tuple[ConfigurationVersion, int]:
        """The current configuration and the definition's aggregate version (its ETag)."""
        _require_storable(key)
        row = await self.pool.fetchrow(
            "SELECT d.key, d.aggregate_version, v.version, v.configuration, v.created_at, v.username"
            " FROM definition_view d JOIN definition_version_view v"
            " ON v.definition_id = d.definition_id AND v.version = d.current_version WHERE d.key = $1",
            key,
        )
        if row is None:
            raise NotFound(f"no process called {key!r}")
        current = ConfigurationVersion(key, row["version"], row["configuration"], row["created_at"], row["username"])
        return current, row["aggregate_version"]

    async def version(self, key: str, selector: str) -> tuple[ConfigurationVersion, int]:
        """One version by number, tag or `~LATEST`."""
        if selector == LATEST:
            return await self.current(key)
        _require_storable(key, selector)
        row = await self.pool.fetchrow(
            "SELECT d.aggregate_version, d.current_version, v.version, v.object_id, v.configuration,"
            " v.created_at, v.username FROM definition_view d JOIN definition_version_view v"
            " ON v.definition_id = d.definition_id"
            " WHERE d.key = $1 AND v.version = CASE WHEN $2 ~ '^[0-9]{1,9}$' THEN $2::int ELSE"
            " (SELECT t.version FROM definition_tag_view t WHERE t.definition_id = d.definition_id AND t.tag = $2) END",
            key, selector,
        )
        if row is None:
            await self.current(key)  # 404 for the key itself first
            raise NotFound(f"process {key!r} has no version or tag {selector!r}")
        version_id = None if row["version"] == row["current_version"] else row["object_id"]
        found = ConfigurationVersion(key, row["version"], row["configuration"], row["created_at"], row["username"], version_id)
        return found, row["aggregate_version"]

    async def versions(self, key: str) -> list[VersionSummary]:
        """The version list, newest first, each with its tags."""
        _require_storable(key)
        rows = await self.pool.fetch(
            "SELECT v.version, v.object_id, v.created_at, v.username,"
            " coalesce(array_agg(t.tag ORDER BY t.tag) FILTER (WHERE t.tag IS NOT NULL), '{}') AS tags"
            " FROM definition_view d JOIN definition_version_view v ON v.definition_id = d.definition_id"
            " LEFT JOIN definition_tag_view t ON t.definition_id = v.definition_id AND t.version = v.version"
            " WHERE d.key = $1 GROUP BY v.version, v.object_id, v.created_at, v.username ORDER BY v.version DESC",
            key,
        )
        if not rows:
            await self.current(key)
        return [VersionSummary(r["object_id"], r["version"], r["created_at"], r["username"], list(r["tags"])) for r in rows]
