"""Commands on process definitions (each a frozen dataclass) and what they answer.

Every field takes part in the Idempotency-Key digest (services/common/executor.py), so two
commands that differ anywhere never share a stored answer. `records` names the events a
command may record (not a field; docs/architecture.md is built from it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from services.definitions.models import ConfigurationVersion


@dataclass(frozen=True)
class SaveDefinition:
    """Create the definition, or add a version when the configuration changed."""

    records: ClassVar[tuple[str, ...]] = (
        "ProcessDefinition.Registered",
        "ProcessDefinition.VersionCreated",
        "ProcessKey.Opened",
        "ProcessKey.Claimed",
    )

    key: str
    configuration: dict[str, Any]
    if_match: int | None = None


@dataclass(frozen=True)
class TagVersion:
    """Put a tag on a version (moving it from another)."""

    records: ClassVar[tuple[str, ...]] = ("ProcessDefinition.Tagged",)

    key: str
    selector: str
    tag: str
    if_match: int | None = None


@dataclass(frozen=True)
class UntagVersion:
    """Remove a tag, keeping its version."""

    records: ClassVar[tuple[str, ...]] = ("ProcessDefinition.TagRemoved",)

    key: str
    tag: str
    if_match: int | None = None


@dataclass(frozen=True)
class RemoveVersion:
    """Remove one version (the last one deletes the definition)."""

    records: ClassVar[tuple[str, ...]] = (
        "ProcessDefinition.VersionRemoved",
        "ProcessDefinition.Deleted",
        "ProcessKey.Released",
    )

    key: str
    selector: str
    if_match: int | None = None


@dataclass(frozen=True)
class DeleteDefinition:
    """Delete the definition and all its versions."""

    records: ClassVar[tuple[str, ...]] = ("ProcessDefinition.Deleted", "ProcessKey.Released")

    key: str
    if_match: int | None = None


@dataclass(frozen=True)
class RenameDefinition:
    """Move a definition to a new key; the old key becomes free."""

    records: ClassVar[tuple[str, ...]] = (
        "ProcessDefinition.Renamed",
        "ProcessKey.Opened",
        "ProcessKey.Claimed",
        "ProcessKey.Released",
    )

    key: str
    new_key: str
    if_match: int | None = None


@dataclass(frozen=True)
class DefinitionChanged:
    """What a definition command answers: the current version after it, unless it deleted the definition."""

    key: str
    etag: int
    created: bool = False
    changed: bool = True
    deleted: bool = False
    current: ConfigurationVersion | None = None
