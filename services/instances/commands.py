"""Commands on process instances (each a frozen dataclass) and what they answer.

Every field takes part in the Idempotency-Key digest (services/common/executor.py), so two
commands that differ anywhere never share a stored answer. `records` names the events a
command may record (not a field; docs/architecture.md is built from it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

# What a Concord flow records while it runs on inside a command (until it ends, fails or waits
# again); a command that may start or resume one names these too.
CONCORD_RUN: tuple[str, ...] = (
    "ProcessInstance.FlowStarted",
    "ProcessInstance.FlowStepStarted",
    "ProcessInstance.FlowStepEnded",
    "ProcessInstance.VariablesSet",
    "ProcessInstance.OutputAppended",
    "ProcessInstance.FlowPaused",
    "ProcessInstance.FormWaiting",
    "ProcessInstance.TaskStarted",
    "ProcessInstance.AutomatedTaskRequested",
    "ProcessInstance.Ended",
    "ProcessInstance.Failed",
)
# What a graph's tokens record at parallel gateways and at an end event reached beside other tokens;
# every command that moves a graph's flow on names these too.
TOKEN_MOVES: tuple[str, ...] = (
    "ProcessInstance.TokenForked",
    "ProcessInstance.TokenArrived",
    "ProcessInstance.TokensJoined",
    "ProcessInstance.TokenEnded",
)


@dataclass(frozen=True)
class CreateInstance:
    """Create an instance of a definition version (latest, number or tag), and start it unless told not to.

    With `start_at` the instance is scheduled instead; the scheduler starts it then, at `start_event`.
    """

    # The events this command may record (docs/architecture.md).
    records: ClassVar[tuple[str, ...]] = (
        "ProcessInstance.Created",
        "ProcessInstance.Scheduled",
        "ProcessInstance.Started",
        "ProcessInstance.TaskStarted",
        "ProcessInstance.AutomatedTaskRequested",
        *CONCORD_RUN,
        *TOKEN_MOVES,
    )

    key: str
    selector: str | None = None
    owner: str | None = None
    target_id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    form_data: dict[str, Any] = field(default_factory=dict)
    documents: tuple[str, ...] = ()
    assignment: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    start: bool = True
    start_event: str | None = None
    start_at: datetime | None = None


@dataclass(frozen=True)
class StartInstance:
    """Start a created instance's flow (a scheduled one at the start event it was created with, if none is given)."""

    records: ClassVar[tuple[str, ...]] = (
        "ProcessInstance.Started",
        "ProcessInstance.TaskStarted",
        "ProcessInstance.AutomatedTaskRequested",
        "ProcessInstance.Ended",
        *TOKEN_MOVES,
        *CONCORD_RUN,
    )

    instance_id: str
    start_event: str | None = None
    if_match: int | None = None


@dataclass(frozen=True)
class MoveOn:
    """Leave the current task for `target`, the branch of `action`, or the only reachable element."""

    records: ClassVar[tuple[str, ...]] = (
        "ProcessInstance.TaskEnded",
        "ProcessInstance.TaskAbandoned",
        "ProcessInstance.TaskStarted",
        "ProcessInstance.AutomatedTaskRequested",
        "ProcessInstance.Ended",
        *TOKEN_MOVES,
    )

    instance_id: str
    target: str | None = None
    action: str | None = None
    if_match: int | None = None


@dataclass(frozen=True)
class UpdateInstance:
    """Record form data and documents, fire a trigger if given, then set a new assignment."""

    records: ClassVar[tuple[str, ...]] = (
        "ProcessInstance.FormDataSubmitted",
        "ProcessInstance.DocumentAttached",
        "ProcessInstance.TaskEnded",
        "ProcessInstance.TaskStarted",
        "ProcessInstance.AssignmentChanged",
        "ProcessInstance.Ended",
        *TOKEN_MOVES,
    )

    instance_id: str
    trigger: str | None = None
    form_data: dict[str, Any] | None = None
    documents: tuple[str, ...] | None = None
    assignment: dict[str, Any] | None = None
    if_match: int | None = None


@dataclass(frozen=True)
class CompleteProcess:
    """Move task by task towards an end; the answer's `problems` say where and why it stopped."""

    records: ClassVar[tuple[str, ...]] = (
        "ProcessInstance.TaskEnded",
        "ProcessInstance.TaskStarted",
        "ProcessInstance.AutomatedTaskRequested",
        "ProcessInstance.Ended",
        *TOKEN_MOVES,
    )

    instance_id: str
    if_match: int | None = None
    # How long to wait, in all, for automated tasks on the way to finish before going on past them
    # (0: answer at the first one, which then moves on by itself).
    wait_seconds: float = 0.0


@dataclass(frozen=True)
class CompleteTask:
    """A worker finished an automated task: the flow moves on."""

    records: ClassVar[tuple[str, ...]] = (
        "ProcessInstance.AutomatedTaskCompleted",
        "ProcessInstance.TaskEnded",
        "ProcessInstance.TaskStarted",
        "ProcessInstance.Ended",
        *TOKEN_MOVES,
        *CONCORD_RUN,
    )

    instance_id: str
    element_id: str
    result: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FailTask:
    """A worker could not finish an automated task: the instance fails."""

    records: ClassVar[tuple[str, ...]] = (
        "ProcessInstance.AutomatedTaskFailed",
        "ProcessInstance.Failed",
        "ProcessInstance.TaskEnded",  # a Concord flow may handle the failure (`error:`, `retry`) and run on
        *CONCORD_RUN,
    )

    instance_id: str
    element_id: str
    error: str


@dataclass(frozen=True)
class StopInstance:
    """Stop the instance (idempotent once it is over)."""

    records: ClassVar[tuple[str, ...]] = ("ProcessInstance.StopRequested", "ProcessInstance.Stopped")

    instance_id: str
    reason: str | None = None
    if_match: int | None = None


@dataclass(frozen=True)
class TimeOutInstance:
    """Fail a Concord process whose `processTimeout` has passed (the scheduler's command; a no-op before then)."""

    records: ClassVar[tuple[str, ...]] = ("ProcessInstance.OutputAppended", "ProcessInstance.Failed")

    instance_id: str
    now: datetime


@dataclass(frozen=True)
class DeleteInstance:
    """Tombstone the instance: reads hide it, the log keeps who and why."""

    records: ClassVar[tuple[str, ...]] = ("ProcessInstance.Deleted",)

    instance_id: str
    reason: str | None = None
    if_match: int | None = None


@dataclass(frozen=True)
class SubmitForm:
    """Submit a form a Concord process waits on: accepted values (and files) are recorded and the flow runs on.

    `values` are the posted field values; `files` the posted files by field name (they become
    attachments). A submission with field errors records nothing and answers the errors.
    """

    records: ClassVar[tuple[str, ...]] = (
        "ProcessInstance.FileAttached",
        "ProcessInstance.FormSubmitted",
        "ProcessInstance.TaskEnded",
        *CONCORD_RUN,
    )

    instance_id: str
    form: str
    values: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class ResumeEvent:
    """Resume a Concord process waiting in a `suspend: event` step: the flow runs on."""

    records: ClassVar[tuple[str, ...]] = ("ProcessInstance.TaskEnded", *CONCORD_RUN)

    instance_id: str
    event: str


@dataclass(frozen=True)
class FormChecked:
    """What a form submission answers: the instance's id, version and status, and the errors by field (none: accepted)."""

    id: str
    etag: int
    status: str
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the submission was accepted."""
        return not self.errors


@dataclass(frozen=True)
class InstanceChanged:
    """What an instance command answers: the instance's id, its version (ETag), status and current element."""

    id: str
    etag: int
    status: str
    element: str | None = None
    problems: list[str] = field(default_factory=list)
