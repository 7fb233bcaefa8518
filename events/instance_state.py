"""Value types of a process instance: its status, its tokens, the record of each element it visited, its deadline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class InstanceStatus(StrEnum):
    """The one internal status; every face renders it in its own words."""

    CREATED = "created"
    SCHEDULED = "scheduled"
    RUNNING = "running"  # a script runs, or an automated task is waiting for its worker
    WAITING = "waiting"  # on a person: a user task or a state with triggers
    COMPLETED = "completed"
    FAILED = "failed"
    STOPPED = "stopped"

    @property
    def finished(self) -> bool:
        """Whether nothing more will happen to the instance."""
        return self in _FINISHED


_FINISHED = frozenset({InstanceStatus.COMPLETED, InstanceStatus.FAILED, InstanceStatus.STOPPED})


# The token a flow starts with; the tokens forks and joins make are numbered on from it ("2", "3", ...).
ROOT_TOKEN = "1"


@dataclass(frozen=True)
class Token:
    """One execution of the flow: the element it is active at (a task waiting or running)."""

    id: str
    element_id: str
    kind: str
    triggers: tuple[str, ...] = ()


@dataclass
class Visit:
    """One stay at an element: when it began and ended, how it was left, and the data then."""

    kind: str  # "start", "task" or "end"
    element_id: str
    flow: int
    started: datetime
    name: str | None = None
    task_type: str | None = None
    triggers: list[str] = field(default_factory=list)
    ended: datetime | None = None
    outcome: str | None = None  # "completed", "abandoned", or the trigger that left it
    # The process data as it stood when the visit ended (Hackney's previousStates).
    form_data: dict[str, Any] = field(default_factory=dict)
    documents: list[str] = field(default_factory=list)
    assignment: dict[str, Any] = field(default_factory=dict)


def deadline_of(started: datetime, seconds: float | None) -> datetime | None:
    """When a process that started then, with this timeout (a Concord processTimeout), must be over."""
    return None if seconds is None else started + timedelta(seconds=seconds)
