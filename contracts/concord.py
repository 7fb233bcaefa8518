"""Concord's wire shapes: a start's `request` object, the upload form, the JSON body of an
entry-point start, and what every Concord start answers."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from contracts.hackney import HackneyStartIn


class StartRequest(BaseModel):
    """A start's `request` (the `request` part, or `request.json` in the archive).

    Only the members read are typed; Concord's others (`dependencies`, `template`, ...) are kept.
    """

    model_config = ConfigDict(extra="allow", strict=True)

    entryPoint: str | None = None
    arguments: dict[str, Any] | None = None
    activeProfiles: list[str] | str | None = None


class UploadForm(BaseModel):
    """The multipart body of Concord's `POST /api/v1/process` (for the OpenAPI document).

    `archive` is a ZIP; `request` a JSON part; `entryPoint`, `startAt` (ISO-8601), `sync` and
    `activeProfiles` are text. Any other text part is an argument (`a.b` nests); any other file
    part is a file of the process's working directory, named by its part name.
    """

    # A multipart body with no part at all is refused (400).
    model_config = ConfigDict(extra="allow", json_schema_extra={"minProperties": 1})
    openapi_encoding: ClassVar[dict[str, dict[str, str]]] = {
        "archive": {"contentType": "application/zip"}, "request": {"contentType": "application/json"},
    }

    # Parts, not JSON members: none may be null, so the defaults below are never validated.
    archive: bytes = None  # type: ignore[assignment]
    request: StartRequest = None  # type: ignore[assignment]
    entryPoint: str = None  # type: ignore[assignment]
    startAt: str = Field(default=None, json_schema_extra={"format": "date-time"})  # type: ignore[assignment]
    sync: bool = None  # type: ignore[assignment]
    activeProfiles: str = None  # type: ignore[assignment]


class ConcordStartIn(HackneyStartIn):
    """`POST /api/v1/process/{entryPoint}`: Concord's `arguments` and `activeProfiles` (comma-separated
    or a list), beside the fields the shared route also takes for Hackney."""

    model_config = ConfigDict(extra="forbid")

    activeProfiles: str | list[str] | None = None


class ConcordStarted(BaseModel):
    """What every Concord start answers (200): the document's `instanceId` and `ok`; `status` with `sync`."""

    instanceId: str
    ok: bool = True
    status: str | None = Field(default=None, description="with sync=true: the process's status once it settled")
