"""The Concord engine: the `Program` an instance of a compiled Concord project runs on.

A Concord instance runs its steps inside the command that started or resumed it (deterministic
domain steps need no worker), until the flow ends, fails, or waits: on a form or a `suspend` (a
person: the instance is WAITING, its current task the form or event) or on a registered script
(`task`: an automated task the script worker runs). Each step is recorded as it runs
(FlowStepStarted/Ended, VariablesSet, OutputAppended for `log`), so every face, the feeds, `asOf`
and Kafka see the same history; the machine's position is recorded when it pauses (FlowPaused)
and read back when it resumes. A Concord flow is not moved along a graph: `next`, triggers and
`completeProcess` are refused, naming the Concord API that moves it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from events.concord.forms import accept
from events.concord.project import Project, ProjectView, Step, deep_merge, parse_duration
from events.concord.runtime import ERROR, FlowError, Machine, RunLimits
from events.concord.sink import InstanceSink
from events.errors import Conflict, InvalidInput, NotFound
from events.flows.engine import FlowConflict
from events.flows.graph import FlowGraph, WorkflowError
from events.instance_state import ROOT_TOKEN

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

    # --- starting -----------------------------------------------------------------------------

    def check_start(self, graph: FlowGraph, instance: ProcessInstance, start_event: str | None) -> None:
        """Refuse an entry point that is not a flow of the project (under the instance's profiles)."""
        self._entry(instance, start_event)

    def start(self, graph: FlowGraph, instance: ProcessInstance, start_event: str | None, user: str) -> None:
        """Apply the active profiles, merge the arguments, enter the flow and run until it waits or ends."""
        view, entry = self._entry(instance, start_event)
        profiles = instance.attributes.get(PROFILES_ATTRIBUTE) or []
        arguments = deep_merge(dict(view.configuration.get("arguments") or {}), instance.parameters)
        timeout = parse_duration(view.configuration.get("processTimeout"))
        instance.trigger_event(instance.Started, start_event=entry, user=user)
        # A handler's own process never starts handlers (a failing onFailure does not loop).
        handlers = [] if entry in HANDLERS else [h for h in HANDLERS if h in view.flows]
        instance.trigger_event(instance.FlowStarted, flow=entry, profiles=list(profiles), timeout_seconds=timeout,
                               handlers=handlers, limits={"stepBudget": self.limits.step_budget,
                                                          "maxCallDepth": self.limits.max_call_depth,
                                                          "maxLoopItems": self.limits.max_loop_items})
        machine = Machine(view, InstanceSink(instance, user), [], _limits(instance))
        try:
            machine.start(entry, arguments)
        except FlowError as e:
            machine.fail(e)

    # --- not a graph --------------------------------------------------------------------------

    def move_on(self, graph: FlowGraph, instance: ProcessInstance, current: str, target: str | None,
                action: str | None, user: str, *, delivered: bool) -> str:
        """Refused: a Concord flow moves on when its form is submitted or its event resumed."""
        raise _not_a_graph(instance)

    def fire(self, graph: FlowGraph, instance: ProcessInstance, trigger: str, user: str) -> str:
        """Refused, as `move_on`."""
        raise _not_a_graph(instance)

    def complete_process(self, graph: FlowGraph, instance: ProcessInstance, user: str) -> list[str]:
        """Refused, as `move_on`."""
        raise _not_a_graph(instance)

    # --- resuming -----------------------------------------------------------------------------

    def form_errors(self, graph: FlowGraph, instance: ProcessInstance, form: str, values: dict[str, Any]) -> dict[str, str]:
        """The errors by field a submission would get (empty: it would be accepted); records nothing."""
        waiting = _waiting_form(instance, form)
        machine, step = self._machine(instance, "")
        return accept(machine.form_spec(step), _shown(waiting), values)[1]

    def submit_form(self, graph: FlowGraph, instance: ProcessInstance, form: str, values: dict[str, Any],
                    user: str, now: datetime) -> dict[str, str]:
        """Check a submission; when it is accepted record it and run on. The errors by field (empty: accepted)."""
        waiting = _waiting_form(instance, form)
        if _timed_out(instance, now, user):
            return {}
        machine, step = self._machine(instance, user)
        accepted, errors = accept(machine.form_spec(step), _shown(waiting), values)
        if errors:
            return errors
        instance.trigger_event(instance.FormSubmitted, form=form, values=accepted, user=user)
        instance.trigger_event(instance.TaskEnded, element_id=form, action="submit", trigger=None, user=user,
                               token=ROOT_TOKEN)
        machine.resume_form(step, accepted)
        return {}

    def resume_event(self, graph: FlowGraph, instance: ProcessInstance, event: str, user: str, now: datetime) -> None:
        """The event a `suspend` step waits for: run on."""
        wait = (instance.paused or {}).get("wait") or {}
        if instance.status.finished or wait.get("kind") != "event" or wait.get("event") != event:
            raise FlowConflict(f"the process does not wait for event {event!r}")
        if _timed_out(instance, now, user):
            return
        machine, step = self._machine(instance, user)
        instance.trigger_event(instance.TaskEnded, element_id=event, action="resume", trigger=None, user=user,
                               token=ROOT_TOKEN)
        machine.resume_event(step)

    def task_done(self, graph: FlowGraph, instance: ProcessInstance, element_id: str,
                  result: dict[str, Any] | None, error: str | None, user: str) -> None:
        """A script run of a `task` step ended (result or error): record it and run on."""
        if error is None:
            instance.trigger_event(instance.AutomatedTaskCompleted, element_id=element_id, result=result or {},
                                   token=ROOT_TOKEN)
        else:
            instance.trigger_event(instance.AutomatedTaskFailed, element_id=element_id, error=error, token=ROOT_TOKEN)
        instance.trigger_event(instance.TaskEnded, element_id=element_id, action=None,
                               trigger=None if error is None else "failed", user=user, token=ROOT_TOKEN)
        machine, step = self._machine(instance, user)
        attempt = int(((instance.paused or {}).get("wait") or {}).get("attempt", 1))
        machine.resume_task(step, result, error, attempt)

    def timer_fired(self, graph: FlowGraph, instance: ProcessInstance, now: datetime, user: str) -> bool:
        """Fail the process as timed out if its processTimeout has passed; whether it did."""
        return _timed_out(instance, now, user)

    # --- internals --------------------------------------------------------------------------

    def _entry(self, instance: ProcessInstance, flow: str | None) -> tuple[ProjectView, str]:
        try:
            view = self.project.view(instance.attributes.get(PROFILES_ATTRIBUTE) or [])
        except WorkflowError as e:
            raise InvalidInput(e.title, e.problems) from None
        entry = flow or view.entry_point
        if entry not in view.flows:
            raise InvalidInput(f"the project has no flow {entry!r}", [f"entryPoint: {entry!r} is not a flow of the project"])
        return view, entry

    def _machine(self, instance: ProcessInstance, user: str) -> tuple[Machine, Step]:
        if instance.concord is None or instance.paused is None:
            raise Conflict("the process is not a waiting Concord flow")
        view = self.project.view(instance.concord.get("profiles") or [])
        frames = copy.deepcopy(instance.paused["frames"])  # the recorded frames stay as they were
        machine = Machine(view, InstanceSink(instance, user), frames, _limits(instance))
        return machine, machine.step(instance.paused["wait"]["step"])


def _not_a_graph(instance: ProcessInstance) -> FlowConflict:
    return FlowConflict(f"this Concord process waits on {instance.element!r}: submit the form (or resume the event) "
                        "through the Concord API")


def _waiting_form(instance: ProcessInstance, form: str) -> dict[str, Any]:
    waiting = instance.forms_waiting.get(form)
    if waiting is None or instance.status.finished:
        raise FormNotWaiting(f"the process does not wait on form {form!r}")
    return waiting


def _shown(waiting: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: {"value": f.get("value"), "allow": f.get("allowedValue")} for f in waiting["fields"]}


def _limits(instance: ProcessInstance) -> RunLimits:
    limits = (instance.concord or {}).get("limits") or {}
    return RunLimits(limits.get("stepBudget", 10_000), limits.get("maxCallDepth", 100), limits.get("maxLoopItems", 10_000))


def _timed_out(instance: ProcessInstance, now: datetime | None, user: str) -> bool:
    deadline = instance.deadline
    if now is None or deadline is None or now < deadline or instance.status.finished:
        return False
    instance.trigger_event(instance.OutputAppended, lines=[["", ERROR, f"{TIMED_OUT} (processTimeout)"]])
    instance.trigger_event(instance.Failed, reason=f"{TIMED_OUT}: processTimeout passed")
    return True


def handler_due(handlers: list[str], status: str, reason: str | None) -> str | None:
    """The handler flow a process that ended with this status (and failure reason) starts, if it has one."""
    wanted = {"stopped": "onCancel", "failed": "onTimeout" if (reason or "").startswith(TIMED_OUT) else "onFailure"}
    flow = wanted.get(status)
    return flow if flow in handlers else None


__all__ = ["ConcordProgram", "FormNotWaiting", "HANDLERS", "HANDLER_KINDS", "KIND_ATTRIBUTE", "PARENT_ATTRIBUTE",
           "PROFILES_ATTRIBUTE", "TIMED_OUT", "handler_due"]
