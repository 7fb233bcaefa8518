"""Read models of process definitions: what queries and command results hand to the faces."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ConfigurationVersion:
    """One version of a definition's configuration. `object_id` is set when it is not the current one."""

    key: str
    version: int
    configuration: dict[str, Any]
    timestamp: datetime
    user: str
    object_id: str | None = None


@dataclass(frozen=True)
class VersionSummary:
    """One row of a definition's version list, with the tags on that version."""

    object_id: str
    version: int
    timestamp: datetime
    user: str
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DefinitionQuery:
    """What a definition list asks for. Field names are checked by the query (they reach SQL)."""

    filters: tuple[tuple[str, str], ...] = ()
    sort: tuple[tuple[str, bool], ...] = ()  # (field, descending)
    limit: int | None = 100  # None: all
    skip: int = 0
    distinct: str | None = None
