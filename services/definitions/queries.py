"""Reads of process definitions: plain SQL against the definitions read model, and rendering."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from events.definition import LATEST, ProcessDefinition, Version
from events.errors import MalformedInput, NotFound
from projections.definitions import object_id

_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_MAX_INT = 2**31 - 1  # PostgreSQL refuses LIMIT/OFFSET beyond bigint; no real list is near this


def render(key: str, version: int, configuration: dict[str, Any], timestamp: datetime, user: str,
           version_id: str | None = None) -> dict[str, Any]:
    """A configuration in the OpenDataDSL shape; a non-current version's `_id` is its object id."""
    return {
        "_id": version_id or key,
        "_type": "VarProcess",
        **configuration,
        "_key": key,
        "_version": version,
        "_timestamp": timestamp.isoformat(),
        "_user": user,
    }


def render_aggregate(definition: ProcessDefinition, version: Version | None = None) -> dict[str, Any]:
    """Render a version of a loaded aggregate (the current one by default)."""
    current = definition.current
    version = version or current
    version_id = None if version.number == current.number else object_id(definition.id, version.number)
    return render(definition.key, version.number, version.configuration, version.timestamp, version.user, version_id)


def _sort_clause(sort: str | None) -> str:
    """`_sort` as `name,-service` or JSON `{"name": 1, "service": -1}`, over known-safe names."""
    if not sort:
        return "key ASC"
    if sort.lstrip().startswith("{"):
        try:
            spec = orjson.loads(sort)
        except orjson.JSONDecodeError:
            raise MalformedInput("invalid _sort", ["_sort: not valid JSON"]) from None
        items = [(k, -1 if v in (-1, "-1", "desc") else 1) for k, v in spec.items()]
    else:
        items = [(p.lstrip("-+"), -1 if p.startswith("-") else 1) for p in sort.split(",") if p]
    parts = []
    for name, direction in items:
        if not _FIELD.fullmatch(name):
            raise MalformedInput(f"invalid sort field {name!r}", [f"_sort: invalid field {name!r}"])
        expr = "key" if name == "_id" else f"configuration->>'{name}'"
        parts.append(f"{expr} {'DESC' if direction < 0 else 'ASC'} NULLS LAST")
    return ", ".join(parts + ["key ASC"])


def _int(params: dict[str, str], name: str, default: int, minimum: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    value = int(raw) if re.fullmatch(r"-?[0-9]{1,10}", raw) else None
    if value is None or not minimum <= value <= _MAX_INT:
        raise MalformedInput(
            f"{name} must be an integer from {minimum} to {_MAX_INT}", [f"{name}: {raw[:40]!r} is not allowed"]
        )
    return value


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

    async def list(self, params: dict[str, str]) -> list[Any]:
        """The current configurations, filtered by `field=value`, sorted, paged, or `_distinct`."""
        limit = _int(params, "_limit", 100, -1)
        skip = _int(params, "_skip", 0, 0)
        where, args = [], []
        for name, value in params.items():
            if name.startswith("_") and name != "_id":
                continue
            if not _FIELD.fullmatch(name):
                raise MalformedInput(f"invalid filter field {name[:64]!r}", [f"{name[:64]}: invalid field name"])
            if "\x00" in value:
                raise MalformedInput(f"invalid filter value for {name}", [f"{name}: contains a NUL character"])
            args.append(value)
            expr = "key" if name == "_id" else f"configuration->>'{name}'"
            where.append(f"{expr} = ${len(args)}")
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        paging = f"OFFSET {skip}" + (f" LIMIT {limit}" if limit >= 0 else "")
        if distinct := params.get("_distinct"):
            if not _FIELD.fullmatch(distinct):
                raise MalformedInput("invalid _distinct", [f"_distinct: invalid field {distinct!r}"])
            # jsonb, not its text, so that booleans and numbers come back as themselves.
            expr = "key" if distinct == "_id" else f"configuration->'{distinct}'"
            rows = await self.pool.fetch(
                f"SELECT DISTINCT {expr} AS value FROM definition_view {clause} ORDER BY 1 {paging}", *args
            )
            return [r["value"] for r in rows if r["value"] is not None]
        # The current version's own time and author, as `current()` renders them (not the
        # definition's last change, which may be a tag).
        rows = await self.pool.fetch(
            f"SELECT key, current_version, configuration, version_at, version_by FROM definition_view d,"
            f" LATERAL (SELECT v.created_at AS version_at, v.username AS version_by FROM definition_version_view v"
            f" WHERE v.definition_id = d.definition_id AND v.version = d.current_version) v"
            f" {clause} ORDER BY {_sort_clause(params.get('_sort'))} {paging}", *args,
        )
        return [
            render(r["key"], r["current_version"], r["configuration"], r["version_at"], r["version_by"])
            for r in rows
        ]

    async def current(self, key: str) -> tuple[dict[str, Any], int]:
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
        return render(key, row["version"], row["configuration"], row["created_at"], row["username"]), row["aggregate_version"]

    async def version(self, key: str, selector: str) -> tuple[dict[str, Any], int]:
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
        body = render(key, row["version"], row["configuration"], row["created_at"], row["username"], version_id)
        return body, row["aggregate_version"]

    async def versions(self, key: str) -> list[dict[str, Any]]:
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
        return [
            {"id": r["object_id"], "tags": list(r["tags"]), "timestamp": r["created_at"].isoformat(),
             "type": "VarProcess", "user": r["username"], "version": str(r["version"])}
            for r in rows
        ]
