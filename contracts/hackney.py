"""Hackney "Manage My Home" process shapes, in the document's (and the real API's) field names."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator


def _form_data(value: Any) -> Any:
    # The document's own sample sends formData as the string "{}"; accept a JSON object in a string.
    if isinstance(value, str):
        try:
            value = orjson.loads(value or "{}")
        except orjson.JSONDecodeError:
            raise ValueError("formData must be an object (or a JSON object in a string)") from None
    return value


class RelatedEntity(BaseModel):
    """Another record the process concerns."""

    model_config = ConfigDict(extra="forbid")

    id: str
    targetType: str | None = None
    subType: str | None = None
    description: str | None = None


class ProcessData(BaseModel):
    """Form data and document references (and the target, as a state shows it; ignored when sent)."""

    model_config = ConfigDict(extra="forbid")

    targetId: str | None = None
    formData: dict[str, Any] | None = None
    documents: list[str] | None = None

    _form = field_validator("formData", mode="before")(_form_data)


class HackneyStartIn(BaseModel):
    """The body of `POST /api/v1/process[/{processName}]` (Concord's `arguments` allowed too)."""

    model_config = ConfigDict(extra="forbid")

    processName: str | None = None
    targetId: str | None = None
    targetType: str | None = None
    relatedEntities: list[RelatedEntity] = Field(default_factory=list)
    formData: dict[str, Any] = Field(default_factory=dict)
    documents: list[str] = Field(default_factory=list)
    assignment: dict[str, Any] | None = None
    arguments: dict[str, Any] = Field(default_factory=dict)

    _form = field_validator("formData", mode="before")(_form_data)


class HackneyStartBodyIn(HackneyStartIn):
    """The body of `POST /api/v1/process`: the same, with the `processName` to start."""

    processName: str = Field(min_length=1)  # type: ignore[assignment]


class HackneyUpdateIn(BaseModel):
    """The body of `PATCH /api/v1/process/{processName}/{id}[/{trigger}]`."""

    model_config = ConfigDict(extra="forbid")

    trigger: str | None = None
    processTrigger: str | None = None
    formData: dict[str, Any] | None = None
    documents: list[str] | None = None
    processData: ProcessData | None = None
    assignment: dict[str, Any] | None = None

    _form = field_validator("formData", mode="before")(_form_data)


class HackneyStarted(BaseModel):
    """What a start answers: Hackney's `id`, and Concord's `instanceId` and `ok`."""

    id: str
    instanceId: str
    ok: bool = True


class ProcessState(BaseModel):
    """One state of a process, current or previous."""

    state: str
    permittedTriggers: list[str]
    assignment: dict[str, Any]
    processData: ProcessData
    createdAt: str | None
    updatedAt: str | None


class HackneyProcess(BaseModel):
    """A process as `GET /api/v1/process/{processName}/{id}` answers it."""

    id: str
    targetId: str | None
    targetType: str | None = None
    relatedEntities: list[RelatedEntity] = Field(default_factory=list)
    processName: str
    currentState: ProcessState
    previousStates: list[ProcessState]
    processStates: list[ProcessState]
    versionNumber: int


class HackneyPage(BaseModel):
    """`GET /api/v1/process?targetId=`: one page and the token for the next."""

    results: list[HackneyProcess]
    paginationDetails: dict[str, Any]
