"""The audit line: one stored event exactly as kept, for feeds, export and import."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class StoredEventLine(BaseModel):
    """One event of the global log. `state` is the stored JSON text, byte for byte."""

    model_config = ConfigDict(extra="forbid")

    position: int = Field(ge=1)
    id: str = Field(description="The event's stable id (the CloudEvent id on Kafka)")
    originator_id: UUID
    originator_version: int = Field(ge=1)
    topic: str
    type: str
    state: str
    recorded_at: datetime
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")
