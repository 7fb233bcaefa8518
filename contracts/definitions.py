"""OpenDataDSL process configuration shapes, in the document's own field names."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CONFIGURATION_FIELDS = (
    "service", "name", "description", "script", "workflow", "cron", "enabled",
    "input", "properties", "settings", "tags", "environment", "processType",
)


# A version's object id (24 hex digits), as `_id` reads on a version that is not the current one.
OBJECT_ID = re.compile(r"[0-9a-f]{24}")
_READ_ONLY = {"readOnly": True}
# A process key: 1-128 letters, digits, '_', '.' or '-', starting with a letter or digit, not a bare number.
_KEY = r"[A-Za-z][A-Za-z0-9_.-]*|[0-9][A-Za-z0-9_.-]*[A-Za-z_.-][A-Za-z0-9_.-]*"
KEY_PATTERN = rf"^(?:{_KEY})$"
# What the document says of a configuration beside the field types (`events.configuration` checks
# it): a key from one of `_id`, `_key`, `name`; exactly one of a script and a workflow; a workflow
# that names another process (`#key`) or is a BPMN document; a cron of 5 to 7 fields.
_ONE_KEY = [
    {"required": ["_id"], "properties": {"_id": {"type": "string"}}},
    {"required": ["_key"], "properties": {"_key": {"type": "string", "minLength": 1}}},
    {"required": ["name"], "properties": {"name": {"type": "string", "minLength": 1}}},
]
_SCRIPT_OR_WORKFLOW = [
    {"required": ["script"], "properties": {"script": {"type": "string", "minLength": 1}}},
    {"required": ["workflow"], "properties": {"workflow": {"type": ["string", "object"]}}},
]
_ID = {"pattern": rf"^(?:{_KEY}|[0-9a-f]{{24}})$", "maxLength": 128}
_WORKFLOW = {"pattern": rf"^(?:#?(?:{_KEY})|[\ufeff \t\r\n]*<[\s\S]*)$", "minProperties": 1}
_CRON_FIELD = r"[0-9A-Za-z*?,/-]+"
_CRON = {"pattern": rf"^\s*{_CRON_FIELD}(?:\s+{_CRON_FIELD}){{4,6}}\s*$"}


class ProcessConfigurationIn(BaseModel):
    """The body of `POST /api/process/v1`: a configuration as written, or as read back by GET.

    The read-only fields a GET answers with (`_key`, `_version`, `_timestamp`, `_user`) are
    accepted and ignored, so GET-edit-POST works; see `key()` for which key is saved.
    """

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True,
                              json_schema_extra={"anyOf": _ONE_KEY, "oneOf": _SCRIPT_OR_WORKFLOW})

    id: str | None = Field(default=None, alias="_id", json_schema_extra=_ID)
    type: Literal["VarProcess"] | None = Field(default=None, alias="_type")
    read_key: str | None = Field(default=None, alias="_key", json_schema_extra=_READ_ONLY)
    read_version: int | None = Field(default=None, alias="_version", json_schema_extra=_READ_ONLY)
    read_timestamp: str | None = Field(default=None, alias="_timestamp", json_schema_extra=_READ_ONLY)
    read_user: str | None = Field(default=None, alias="_user", json_schema_extra=_READ_ONLY)
    service: str | None = None
    name: str | None = None
    description: str | None = None
    script: str | None = None
    workflow: str | dict[str, Any] | None = Field(default=None, json_schema_extra=_WORKFLOW)
    cron: str | None = Field(default=None, json_schema_extra=_CRON)
    enabled: bool | None = None
    input: dict[str, Any] | None = None
    properties: dict[str, Any] | None = None
    settings: dict[str, Any] | None = None
    tags: list[str] | None = None
    environment: str | None = None
    processType: Literal["Ristretto", "Lungo"] | None = None

    def key(self) -> str | None:
        """The key to save under: `_id`, else `_key`, else `name`.

        A body read back from a version that is not the current one carries that version's object
        id as `_id` and its key as `_key`: then `_key` is the key. Any other `_id` wins over `_key`
        (a configuration copied under a new `_id` is a new process, not an overwrite of the old).
        """
        if self.id is not None and not (self.read_key and OBJECT_ID.fullmatch(self.id)):
            return self.id
        return self.read_key or self.name

    def configuration(self) -> dict[str, Any]:
        """The versioned part: every field that was given, without `_id`, `_type` and the read-only fields."""
        return self.model_dump(include=set(CONFIGURATION_FIELDS), exclude_unset=True, exclude_none=True)


class RenameIn(BaseModel):
    """The body of `PUT /api/process/v1/{key}`: the new key."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    id: str = Field(alias="_id", max_length=128, pattern=KEY_PATTERN)


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
