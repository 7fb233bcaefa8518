"""Commands on script processes (each a frozen dataclass): start one, stop one."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class StartProcess:
    """Start (or schedule, when `start_at` is in the future) a registered script or a definition.

    Exactly one of `script` and `definition` is named; `start_event` names the flow's start
    event where the model has several. `files` are the input files, by relative path.
    """

    script: str | None = None
    definition: str | None = None
    selector: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    start_at: datetime | None = None
    start_event: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StopProcess:
    """Stop a process: a running script is killed, the instance ends stopped (idempotent)."""

    instance_id: str
