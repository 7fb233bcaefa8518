"""The one engine interface: what every kind of definition decides for the instance it runs.

A definition compiles to a `FlowGraph` (what every face draws and lists) carrying a `Program`:
the engine that decides how an instance of it moves. The BPMN and state-machine graph walker
(`events/flows/walker.py`) and the Concord step interpreter (`events/concord/program.py`) are the
two today. `ProcessInstance` checks what holds for every engine (live, started, waiting), then
hands the decision to its graph's program, which records the events of the decision on the
instance (`instance.trigger_event(instance.TaskStarted, ...)`); the event classes and their apply
handlers stay on the aggregate, so replaying the events rebuilds the same state with no engine.

Invariant: a program is deterministic and holds no state of its own: the same graph, instance
events and arguments give the same events. A decision a program does not take (a form on a
BPMN task, `next` on a Concord flow) raises a `DomainError` saying what to do instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from events.flows.graph import FlowGraph
    from events.instance import ProcessInstance

__all__ = ["Program"]


class Program(Protocol):
    """An engine's decisions; each records its events on `instance` (see the module docstring)."""

    def check_start(self, graph: FlowGraph, instance: ProcessInstance, start_event: str | None) -> None:
        """Refuse a start event the instance could not start at (before it is scheduled); records nothing."""

    def start(self, graph: FlowGraph, instance: ProcessInstance, start_event: str | None, user: str) -> None:
        """Start the flow and run it to its first wait (a task, a form, an event) or its end."""

    def move_on(self, graph: FlowGraph, instance: ProcessInstance, current: str, target: str | None,
                action: str | None, user: str, *, delivered: bool) -> str:
        """A person leaves the waiting task `current` for `target` (or the only way on); the element entered."""

    def fire(self, graph: FlowGraph, instance: ProcessInstance, trigger: str, user: str) -> str:
        """Fire a named trigger of the waiting state; the element entered."""

    def complete_process(self, graph: FlowGraph, instance: ProcessInstance, user: str) -> list[str]:
        """Move task by task towards an end; the problems where it had to stop (empty: at an end or a worker's task)."""

    def task_done(self, graph: FlowGraph, instance: ProcessInstance, element_id: str,
                  result: dict[str, Any] | None, error: str | None, user: str) -> None:
        """A worker's automated task ended with `result`, or failed with `error`: record it and move on."""

    def form_errors(self, graph: FlowGraph, instance: ProcessInstance, form: str, values: dict[str, Any]) -> dict[str, str]:
        """The errors by field a submission of a waiting form would get (empty: accepted); records nothing."""

    def submit_form(self, graph: FlowGraph, instance: ProcessInstance, form: str, values: dict[str, Any],
                    user: str, now: datetime) -> dict[str, str]:
        """Submit a waiting form; when accepted record it and run on. The errors by field (empty: accepted)."""

    def resume_event(self, graph: FlowGraph, instance: ProcessInstance, event: str, user: str, now: datetime) -> None:
        """The event the flow waits for came: run on."""

    def timer_fired(self, graph: FlowGraph, instance: ProcessInstance, now: datetime, user: str) -> bool:
        """A timer of the instance may be due at `now` (today: the process deadline); whether it changed anything."""
