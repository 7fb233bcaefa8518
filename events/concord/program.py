"""The Concord side of the instance aggregate: commands that run a compiled project's flows.

`ProcessInstance` mixes this in. A Concord instance runs its steps inside the command that
started or resumed it (deterministic domain steps need no worker), until the flow ends, fails,
or waits: on a form or a `suspend` (a person: the instance is WAITING, its current task the form
or event) or on a registered script (`task`: an automated task the script worker runs). Each
step is recorded as it runs (FlowStepStarted/Ended, VariablesSet, OutputAppended for `log`),
so every face, the feeds, `asOf` and Kafka see the same history; the machine's position is
recorded when it pauses (FlowPaused) and read back when it resumes.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from events.concord.forms import FormSpec, accept
from events.concord.project import Project, ProjectView, Step, deep_merge, parse_duration
from events.concord.runtime import ERROR, FlowError, Machine, RunLimits
from events.errors import Conflict, InvalidInput, NotFound
from events.flows.engine import FlowConflict
from events.flows.graph import NodeKind, WorkflowError

if TYPE_CHECKING:
    from events.instance import ProcessInstance

PROFILES_ATTRIBUTE = "activeProfiles"


class FormNotWaiting(NotFound):
    """The process does not (or no longer) wait on the form named."""

TIMED_OUT = "process timed out"
# Flows Concord starts as a new process when one ends badly: failed, cancelled, timed out.
HANDLERS = ("onFailure", "onCancel", "onTimeout")
HANDLER_KINDS = {"onFailure": "FAILURE_HANDLER", "onCancel": "CANCEL_HANDLER", "onTimeout": "TIMEOUT_HANDLER"}
PARENT_ATTRIBUTE, KIND_ATTRIBUTE = "parentInstanceId", "concordKind"  # on a handler's process


@dataclass(frozen=True)
class ConcordProgram:
    """A compiled project and the limits its processes run under (what a Concord graph carries)."""

    project: Project
    limits: RunLimits = RunLimits()


class _Sink:
    """The machine's effects, recorded as the aggregate's events."""

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
                             delay_seconds=delay)

    def _task(self, element: str, kind: NodeKind, task_type: str, name: str | None = None) -> None:
        self.i.trigger_event(self.i.TaskStarted, element_id=element, kind=str(kind), name=name or element, task_type=task_type,
                             via=[], triggers=[], assignment=None, user=self.user)

    def finish(self) -> None:
        self.i.trigger_event(self.i.Ended, end_event="end", via=[], user=self.user)

    def fail(self, message: str) -> None:
        self.i.trigger_event(self.i.Failed, reason=message)


class ConcordFlow:
    """Commands of a Concord instance; see the module docstring."""

    # --- starting -----------------------------------------------------------------------------

    def start_concord(self: ProcessInstance, program: ConcordProgram, flow: str | None, user: str) -> None:  # type: ignore[misc]
        """Apply the active profiles, merge the arguments, enter the flow and run until it waits or ends."""
        profiles = self.attributes.get(PROFILES_ATTRIBUTE) or []
        try:
            view = program.project.view(profiles)
        except WorkflowError as e:
            raise InvalidInput(e.title, e.problems) from None
        entry = flow or view.entry_point
        if entry not in view.flows:
            raise InvalidInput(f"the project has no flow {entry!r}", [f"entryPoint: {entry!r} is not a flow of the project"])
        arguments = deep_merge(dict(view.configuration.get("arguments") or {}), self.parameters)
        timeout = parse_duration(view.configuration.get("processTimeout"))
        self.trigger_event(self.Started, start_event=entry, user=user)
        # A handler's own process never starts handlers (a failing onFailure does not loop).
        handlers = [] if entry in HANDLERS else [h for h in HANDLERS if h in view.flows]
        self.trigger_event(self.FlowStarted, flow=entry, profiles=list(profiles), timeout_seconds=timeout, handlers=handlers,
                           limits={"stepBudget": program.limits.step_budget, "maxCallDepth": program.limits.max_call_depth,
                                   "maxLoopItems": program.limits.max_loop_items})
        machine = Machine(view, _Sink(self, user), [], self._limits())
        try:
            machine.start(entry, arguments)
        except FlowError as e:
            machine.fail(e)

    # --- resuming -----------------------------------------------------------------------------

    def concord_form_errors(self: ProcessInstance, program: ConcordProgram, form: str,  # type: ignore[misc]
                            submitted: dict[str, Any]) -> dict[str, str]:
        """The errors by field a submission would get (empty: it would be accepted); records nothing."""
        waiting = self._waiting_form(form)
        machine, step = self._machine(program, "")
        shown = {f["name"]: {"value": f.get("value"), "allow": f.get("allowedValue")} for f in waiting["fields"]}
        return accept(machine.form_spec(step), shown, submitted)[1]

    def submit_concord_form(self: ProcessInstance, program: ConcordProgram, form: str, submitted: dict[str, Any],  # type: ignore[misc]
                            user: str, now: datetime | None = None) -> dict[str, str]:
        """Check a submission; when it is accepted record it and run on. The errors by field (empty: accepted)."""
        waiting = self._waiting_form(form)
        if self._timed_out(now, user):
            return {}
        machine, step = self._machine(program, user)
        spec = machine.form_spec(step)
        shown = {f["name"]: {"value": f.get("value"), "allow": f.get("allowedValue")} for f in waiting["fields"]}
        values, errors = accept(spec, shown, submitted)
        if errors:
            return errors
        self.trigger_event(self.FormSubmitted, form=form, values=values, user=user)
        self.trigger_event(self.TaskEnded, element_id=form, action="submit", trigger=None, user=user)
        machine.resume_form(step, values)
        return {}

    def resume_concord_event(self: ProcessInstance, program: ConcordProgram, event: str, user: str,  # type: ignore[misc]
                             now: datetime | None = None) -> None:
        """The event a `suspend` step waits for: run on."""
        wait = (self.paused or {}).get("wait") or {}
        if self.status.finished or wait.get("kind") != "event" or wait.get("event") != event:
            raise FlowConflict(f"the process does not wait for event {event!r}")
        if self._timed_out(now, user):
            return
        machine, step = self._machine(program, user)
        self.trigger_event(self.TaskEnded, element_id=event, action="resume", trigger=None, user=user)
        machine.resume_event(step)

    def concord_task_done(self: ProcessInstance, program: ConcordProgram, element_id: str,  # type: ignore[misc]
                          result: dict[str, Any] | None, error: str | None, user: str) -> None:
        """A script run of a `task` step ended (result or error): record it and run on."""
        if error is None:
            self.trigger_event(self.AutomatedTaskCompleted, element_id=element_id, result=result or {})
        else:
            self.trigger_event(self.AutomatedTaskFailed, element_id=element_id, error=error)
        self.trigger_event(self.TaskEnded, element_id=element_id, action=None, trigger=None if error is None else "failed",
                           user=user)
        machine, step = self._machine(program, user)
        attempt = int(((self.paused or {}).get("wait") or {}).get("attempt", 1))
        machine.resume_task(step, result, error, attempt)

    def time_out(self: ProcessInstance, now: datetime, user: str) -> bool:  # type: ignore[misc]
        """Fail the process as timed out if its processTimeout has passed; whether it did."""
        return self._timed_out(now, user)

    # --- internals --------------------------------------------------------------------------

    def _waiting_form(self: ProcessInstance, form: str) -> dict[str, Any]:  # type: ignore[misc]
        self._require_live()
        waiting = self.forms_waiting.get(form)
        if waiting is None or self.status.finished:
            raise FormNotWaiting(f"the process does not wait on form {form!r}")
        return waiting

    def _limits(self: ProcessInstance) -> RunLimits:  # type: ignore[misc]
        limits = (self.concord or {}).get("limits") or {}
        return RunLimits(limits.get("stepBudget", 10_000), limits.get("maxCallDepth", 100), limits.get("maxLoopItems", 10_000))

    def _machine(self: ProcessInstance, program: ConcordProgram, user: str) -> tuple[Machine, Step]:  # type: ignore[misc]
        if self.concord is None or self.paused is None:
            raise Conflict("the process is not a waiting Concord flow")
        view: ProjectView = program.project.view((self.concord or {}).get("profiles") or [])
        frames = copy.deepcopy(self.paused["frames"])  # the recorded frames stay as they were
        machine = Machine(view, _Sink(self, user), frames, self._limits())
        return machine, machine.step(self.paused["wait"]["step"])

    def _timed_out(self: ProcessInstance, now: datetime | None, user: str) -> bool:  # type: ignore[misc]
        deadline = self.deadline
        if now is None or deadline is None or now < deadline or self.status.finished:
            return False
        self.trigger_event(self.OutputAppended, lines=[["", ERROR, f"{TIMED_OUT} (processTimeout)"]])
        self.trigger_event(self.Failed, reason=f"{TIMED_OUT}: processTimeout passed")
        return True


def deadline_of(started: datetime, seconds: float | None) -> datetime | None:
    """When a process with this processTimeout must be over."""
    return None if seconds is None else started + timedelta(seconds=seconds)



def handler_due(handlers: list[str], status: str, reason: str | None) -> str | None:
    """The handler flow a process that ended with this status (and failure reason) starts, if it has one."""
    wanted = {"stopped": "onCancel", "failed": "onTimeout" if (reason or "").startswith(TIMED_OUT) else "onFailure"}
    flow = wanted.get(status)
    return flow if flow in handlers else None


__all__ = ["ConcordFlow", "ConcordProgram", "FormSpec", "HANDLERS", "HANDLER_KINDS", "KIND_ATTRIBUTE", "PARENT_ATTRIBUTE", "PROFILES_ATTRIBUTE", "TIMED_OUT", "deadline_of", "handler_due"]
