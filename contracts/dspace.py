"""DSpace request shapes: the script invocation form and its `properties` list."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class ScriptParameter(BaseModel):
    """One item of the invocation's `properties`: a parameter's name and value."""

    model_config = ConfigDict(extra="allow", strict=True)

    name: str
    value: Any = None


PROPERTIES = TypeAdapter(list[ScriptParameter])
"""The `properties` part: a JSON list of parameters."""


class ScriptInvocationForm(BaseModel):
    """The multipart body of `POST /api/system/scripts/{name}/processes` (for the OpenAPI document).

    `properties` is a part holding JSON; every `file` part is an input file named by its
    filename; `startTime` schedules the run. Other parts are text.
    """

    # A multipart body with no part at all is refused (400), whatever the script.
    model_config = ConfigDict(extra="allow", json_schema_extra={"minProperties": 1})
    # How each part is sent (OpenAPI `encoding`): `properties` is a JSON part.
    openapi_encoding: ClassVar[dict[str, dict[str, str]]] = {"properties": {"contentType": "application/json"}}

    # Parts, not JSON members: none may be null, so the defaults below are never validated.
    properties: list[ScriptParameter] = None  # type: ignore[assignment]
    file: list[bytes] = None  # type: ignore[assignment]
    startTime: str = Field(default=None, json_schema_extra={"format": "date-time"})  # type: ignore[assignment]
