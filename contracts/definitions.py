"""OpenDataDSL process configuration shapes, in the document's own field names."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CONFIGURATION_FIELDS = (
    "service", "name", "description", "script", "workflow", "cron", "enabled",
    "input", "properties", "settings", "tags", "environment", "processType",
)


class ProcessConfigurationIn(BaseModel):
    """The body of `POST /api/process/v1`. The key is `_id`, or `name` when `_id` is absent."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    id: str | None = Field(default=None, alias="_id")
    type: Literal["VarProcess"] | None = Field(default=None, alias="_type")
    service: str | None = None
    name: str | None = None
    description: str | None = None
    script: str | None = None
    workflow: str | dict[str, Any] | None = None
    cron: str | None = None
    enabled: bool | None = None
    input: dict[str, Any] | None = None
    properties: dict[str, Any] | None = None
    settings: dict[str, Any] | None = None
    tags: list[str] | None = None
    environment: str | None = None
    processType: Literal["Ristretto", "Lungo"] | None = None

    def configuration(self) -> dict[str, Any]:
        """The versioned part: every field that was given, without `_id` and `_type`."""
        return self.model_dump(include=set(CONFIGURATION_FIELDS), exclude_unset=True, exclude_none=True)


class RenameIn(BaseModel):
    """The body of `PUT /api/process/v1/{key}`: the new key."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    id: str = Field(alias="_id")


class ProcessConfigurationOut(BaseModel):
    """A configuration as read: its fields plus `_id`, `_type` and the version it is."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str = Field(alias="_id")
    type: str = Field(default="VarProcess", alias="_type")
    version: int = Field(alias="_version")
    timestamp: str = Field(alias="_timestamp")
    user: str = Field(alias="_user")


class VersionEntry(BaseModel):
    """One row of the version list (newest first)."""

    id: str
    tags: list[str]
    timestamp: str
    type: str = "VarProcess"
    user: str
    version: str


class BuildInfo(BaseModel):
    """`GET /api/process`: what is running."""

    name: str
    version: str
    build: str
    python: str
