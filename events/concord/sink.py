"""Where the Concord machine's effects go: the instance's events (steps, variables, output, waits).

A Concord flow runs one token (the root token): its forms, events and tasks are one at a time.

Invariant: every effect is one or more recorded events, nothing else, so the instance's history
alone says what the flow did; the reads (variables, steps run) are the instance's folded state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from events.concord.project import Step
from events.flows.graph import NodeKind
from events.instance_state import ROOT_TOKEN

if TYPE_CHECKING:
    from events.instance import ProcessInstance

__all__ = ["InstanceSink"]


class InstanceSink:
    """The machine's `Sink`: its reads from the instance, and its effects recorded as the instance's events."""

    def __init__(self, instance: ProcessInstance, user: str) -> None:
        self.i = instance
        self.user = user

    @property
    def variables(self) -> dict[str, Any]:
        return self.i.variables

    @property
    def steps_run(self) -> int:
        return self.i.steps_run

    @property
    def builtins(self) -> dict[str, Any]:
        return {"txId": str(self.i.id), "initiator": {"username": self.i.initiator}}

    def step_started(self, step: Step) -> None:
        self.i.trigger_event(self.i.FlowStepStarted, step_id=step.id, kind=step.kind, name=step.name,
                             file=step.where.file, line=step.where.line)

    def step_ended(self, step: Step, outcome: str) -> None:
        self.i.trigger_event(self.i.FlowStepEnded, step_id=step.id, outcome=outcome)

    def set_variables(self, values: dict[str, Any]) -> None:
        self.i.trigger_event(self.i.VariablesSet, values=values)

    def log(self, level: str, text: str) -> None:
        self.i.trigger_event(self.i.OutputAppended, lines=[["", level, line] for line in text.split("\n")])

    def wait_form(self, step: Step, form: str, fields: list[dict[str, Any]], frames: list[dict[str, Any]]) -> None:
        self.i.trigger_event(self.i.FlowPaused, wait={"kind": "form", "step": step.id, "form": form}, frames=frames)
        self.i.trigger_event(self.i.FormWaiting, form=form, step_id=step.id, fields=fields)
        self._task(form, NodeKind.USER_TASK, "form")

    def wait_event(self, step: Step, event: str, frames: list[dict[str, Any]]) -> None:
        self.i.trigger_event(self.i.FlowPaused, wait={"kind": "event", "step": step.id, "event": event}, frames=frames)
        self._task(event, NodeKind.USER_TASK, "event")

    def wait_task(self, step: Step, task: str, parameters: dict[str, Any], attempt: int, frames: list[dict[str, Any]],
                  delay: float = 0.0) -> None:
        self.i.trigger_event(self.i.FlowPaused, wait={"kind": "task", "step": step.id, "task": task, "attempt": attempt},
                             frames=frames)
        self._task(step.id, NodeKind.SERVICE_TASK, task, name=step.name or task)
        self.i.trigger_event(self.i.AutomatedTaskRequested, element_id=step.id, script=task, parameters=parameters,
                             delay_seconds=delay, token=ROOT_TOKEN)

    def _task(self, element: str, kind: NodeKind, task_type: str, name: str | None = None) -> None:
        self.i.trigger_event(self.i.TaskStarted, element_id=element, kind=str(kind), name=name or element, task_type=task_type,
                             via=[], triggers=[], assignment=None, user=self.user, token=ROOT_TOKEN)

    def finish(self) -> None:
        self.i.trigger_event(self.i.Ended, end_event="end", via=[], user=self.user, token=ROOT_TOKEN)

    def fail(self, message: str) -> None:
        self.i.trigger_event(self.i.Failed, reason=message)
