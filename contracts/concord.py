"""Concord's wire shapes: the JSON body of an entry-point start, and what every Concord start answers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from contracts.hackney import HackneyStartIn


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
