"""Altinn request shapes, in the document's own field names."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ProcessNextIn(BaseModel):
    """The optional body of `PUT …/process/next`: the action the user takes at the current task.

    Other members are ignored, as Altinn's `ProcessNext` model reads only `action`.
    """

    model_config = ConfigDict(extra="ignore", strict=True)

    action: str | None = None
