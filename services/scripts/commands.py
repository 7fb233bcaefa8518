"""Commands on script processes (each a frozen dataclass): start one, stop one.

`records` names the events a command may record (not a field; docs/architecture.md is built from it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from services.instances.commands import CONCORD_RUN


@dataclass(frozen=True)
class StartProcess:
    """Start (or schedule, when `start_at` is in the future) a registered script or a definition.

    Exactly one of `script` and `definition` is named; `start_event` names the flow's start
    event where the model has several. `files` are the input files, by relative path.
    """

    # The events this command may record (docs/architecture.md).
    records: ClassVar[tuple[str, ...]] = (
        "ProcessDefinition.VersionCreated",
        "ProcessInstance.Created",
        "ProcessInstance.Scheduled",
        "ProcessInstance.Started",
        "ProcessInstance.TaskStarted",
        "ProcessInstance.AutomatedTaskRequested",
        *CONCORD_RUN,
    )

    script: str | None = None
    definition: str | None = None
    selector: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    start_at: datetime | None = None
    start_event: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    # What a start through the shared `/api/v1/process/{x}` route may also carry (Hackney's fields).
    target_id: str | None = None
    form_data: dict[str, Any] = field(default_factory=dict)
    documents: tuple[str, ...] = ()
    assignment: dict[str, Any] | None = None


@dataclass(frozen=True)
class StopProcess:
    """Stop a process: a running script is killed, the instance ends stopped (idempotent).

    `if_match`: the version the caller last saw (`If-Match`); a stale one is refused (412).
    """

    records: ClassVar[tuple[str, ...]] = ("ProcessInstance.StopRequested", "ProcessInstance.Stopped")

    instance_id: str
    if_match: int | None = None


@dataclass(frozen=True)
class RetryProcess:
    """Run a failed script run again, as a new run of the same definition version with the same
    parameters and input files (marked `retryOf`)."""

    records: ClassVar[tuple[str, ...]] = (
        "ProcessInstance.Created",
        "ProcessInstance.Started",
        "ProcessInstance.TaskStarted",
        "ProcessInstance.AutomatedTaskRequested",
    )

    instance_id: str
