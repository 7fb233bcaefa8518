"""A process instance: one run of a definition version through its flow graph.

Invariant: an instance is not started, finished, or has one or more tokens each active at a task
(or waiting at a parallel join); `element`, `element_kind` and `triggers` show the first active
token (the one entered earliest), so a one-token flow reads as before. It it moves only as its graph's program decides, and its state is the fold of its
events; the graph is passed in by the caller, compiled from the definition version the instance
records. The commands check what holds whatever the engine, then delegate the decision to the
graph's `Program` (events/flows/program.py), which records the events below on the instance.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from eventsourcing.domain import Aggregate

from events.errors import Conflict, NotFound
from events.expressions import Facts
from events.flows.engine import FlowConflict, InvalidTrigger, next_steps
from events.flows.graph import FlowGraph, NodeKind
from events.flows.program import Program
from events.instance_state import ROOT_TOKEN, InstanceStatus, Token, Visit, deadline_of
from events.variables import set_path

S = InstanceStatus


def line_time(moment: datetime) -> str:
    """A console line's time: UTC, always with microseconds, so the strings sort as times do."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ProcessInstance(Aggregate):
    """The instance aggregate; commands check, then record past-tense events.

    A Concord project's instance runs its steps in the command path (events/concord/program.py);
    its steps, variables and form waits are the Flow*/Variables*/Form* events below.
    """

    class Created(Aggregate.Created):
        definition_id: str
        definition_key: str
        definition_version: int
        initiator: str
        owner: str | None
        target_id: str | None
        parameters: dict[str, Any]
        form_data: dict[str, Any]
        documents: list[str]
        assignment: dict[str, Any]
        attributes: dict[str, Any]

    class Scheduled(Aggregate.Event):
        start_at: datetime
        user: str

        def apply(self, i: ProcessInstance) -> None:
            i.status, i.scheduled_for = S.SCHEDULED, self.start_at

    class Started(Aggregate.Event):
        start_event: str
        user: str

        def apply(self, i: ProcessInstance) -> None:
            i.status, i.started_at, i.start_event, i.flow = S.RUNNING, self.timestamp, self.start_event, 1
            i.tokens_made = 1
            i.visits.append(Visit("start", self.start_event, 1, self.timestamp, ended=self.timestamp))

    class TaskStarted(Aggregate.Event):
        """A token entered a task (`token`: which one; events recorded before tokens read the root token)."""

        element_id: str
        kind: str
        name: str | None
        task_type: str | None
        via: list[str]
        triggers: list[str]
        assignment: dict[str, Any] | None
        user: str
        token: str = ROOT_TOKEN

        def apply(self, i: ProcessInstance) -> None:
            i.flow += 1
            i.delivered = False
            i.tokens[self.token] = Token(self.token, self.element_id, self.kind, tuple(self.triggers))
            i.show_tokens()
            if self.assignment is not None:
                i.assignment = dict(self.assignment)
            i.visits.append(Visit("task", self.element_id, i.flow, self.timestamp, self.name, self.task_type, list(self.triggers)))

    class TaskEnded(Aggregate.Event):
        element_id: str
        action: str | None
        trigger: str | None
        user: str
        token: str = ROOT_TOKEN

        def apply(self, i: ProcessInstance) -> None:
            i.close_visit(self.timestamp, self.trigger or "completed", self.element_id)
            i.tokens.pop(self.token, None)
            i.show_tokens()

    class TaskAbandoned(Aggregate.Event):
        element_id: str
        action: str | None
        user: str
        token: str = ROOT_TOKEN

        def apply(self, i: ProcessInstance) -> None:
            i.close_visit(self.timestamp, "abandoned", self.element_id)
            i.tokens.pop(self.token, None)
            i.show_tokens()

    class Ended(Aggregate.Event):
        """A token reached an end event, and with it the instance ended."""

        end_event: str
        via: list[str]
        user: str
        token: str = ROOT_TOKEN

        def apply(self, i: ProcessInstance) -> None:
            i.flow += 1
            i.tokens.clear()
            i.joins.clear()
            i.status, i.ended_at, i.end_event = S.COMPLETED, self.timestamp, self.end_event
            i.element, i.element_kind, i.triggers = self.end_event, NodeKind.END_EVENT, []
            i.visits.append(Visit("end", self.end_event, i.flow, self.timestamp, ended=self.timestamp))

    class TokenForked(Aggregate.Event):
        """A token left a parallel gateway: `children` (one per outgoing flow in `flows`) replace it."""

        element_id: str
        token: str
        children: list[str]
        flows: list[str]
        user: str

        def apply(self, i: ProcessInstance) -> None:
            i.tokens.pop(self.token, None)
            for child in self.children:
                i.tokens[child] = Token(child, self.element_id, NodeKind.PARALLEL_GATEWAY)
            i.tokens_made += len(self.children)

    class TokenArrived(Aggregate.Event):
        """A token reached a parallel join along `via` (its last flow) and waits for the other branches."""

        element_id: str
        via: list[str]
        token: str
        user: str

        def apply(self, i: ProcessInstance) -> None:
            i.tokens.pop(self.token, None)
            i.joins.setdefault(self.element_id, {}).setdefault(self.via[-1], []).append(self.token)
            i.show_tokens()

    class TokensJoined(Aggregate.Event):
        """A parallel join had a token on every incoming flow: those `joined` end, one `token` goes on."""

        element_id: str
        joined: list[str]
        token: str
        user: str

        def apply(self, i: ProcessInstance) -> None:
            waiting = i.joins.get(self.element_id, {})
            for flow in list(waiting):
                waiting[flow] = [t for t in waiting[flow] if t not in self.joined]
                if not waiting[flow]:
                    del waiting[flow]
            if not waiting:
                i.joins.pop(self.element_id, None)
            i.tokens[self.token] = Token(self.token, self.element_id, NodeKind.PARALLEL_GATEWAY)
            i.tokens_made += 1

    class TokenEnded(Aggregate.Event):
        """A token reached an end event while others are still active, so the instance goes on."""

        end_event: str
        via: list[str]
        token: str
        user: str

        def apply(self, i: ProcessInstance) -> None:
            i.tokens.pop(self.token, None)
            i.show_tokens()

    class FormDataSubmitted(Aggregate.Event):
        form_data: dict[str, Any]
        user: str

        def apply(self, i: ProcessInstance) -> None:
            i.form_data.update(self.form_data)
            i.delivered = True

    class DocumentAttached(Aggregate.Event):
        document: str
        user: str

        def apply(self, i: ProcessInstance) -> None:
            i.documents.append(self.document)
            i.delivered = True

    class AssignmentChanged(Aggregate.Event):
        assignment: dict[str, Any]
        user: str

        def apply(self, i: ProcessInstance) -> None:
            i.assignment = dict(self.assignment)

    class AutomatedTaskRequested(Aggregate.Event):
        """A script run is asked for; no worker starts it before `delay_seconds` after the event (a retry's delay)."""

        element_id: str
        script: str
        parameters: dict[str, Any]
        delay_seconds: float = 0.0  # absent from events recorded before it existed: the class default reads 0
        token: str = ROOT_TOKEN

        def apply(self, i: ProcessInstance) -> None:
            i.pending_task = self.element_id

    class AutomatedTaskCompleted(Aggregate.Event):
        element_id: str
        result: dict[str, Any]
        token: str = ROOT_TOKEN

        def apply(self, i: ProcessInstance) -> None:
            i.pending_task, i.results[self.element_id] = None, dict(self.result)

    class AutomatedTaskFailed(Aggregate.Event):
        element_id: str
        error: str
        token: str = ROOT_TOKEN

        def apply(self, i: ProcessInstance) -> None:
            i.pending_task = None

    class OutputAppended(Aggregate.Event):
        """Console lines, each `[time, stream, text]`; one event holds a batch of lines.

        `time` is `line_time(...)` of when the line was read ("" means the event's own time).
        Version 1 held one `text` at the event's time: it reads as one stdout line.
        """

        class_version = 2
        lines: list[list[str]]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["lines"] = [[line_time(state["timestamp"]), "stdout", state.pop("text")]]

        def apply(self, i: ProcessInstance) -> None:
            i.output_lines += len(self.lines)

    class FileAttached(Aggregate.Event):
        """A file kept in the blob store under `digest`; `kind` is "input", "output" or "attachment"."""

        class_version = 2
        name: str
        size: int
        media_type: str
        digest: str
        kind: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["kind"] = "output"

        def apply(self, i: ProcessInstance) -> None:
            i.files[self.name] = {"size": self.size, "media_type": self.media_type, "digest": self.digest, "kind": self.kind}

    class StopRequested(Aggregate.Event):
        user: str
        reason: str | None

        def apply(self, i: ProcessInstance) -> None:
            i.stop_requested = True

    class Stopped(Aggregate.Event):
        user: str
        reason: str | None

        def apply(self, i: ProcessInstance) -> None:
            i.status, i.ended_at, i.pending_task = S.STOPPED, self.timestamp, None
            i.tokens.clear()

    class Failed(Aggregate.Event):
        reason: str

        def apply(self, i: ProcessInstance) -> None:
            i.status, i.ended_at, i.failure, i.pending_task = S.FAILED, self.timestamp, self.reason, None
            i.tokens.clear()

    class Deleted(Aggregate.Event):
        user: str
        reason: str | None

        def apply(self, i: ProcessInstance) -> None:
            i.deleted = True

    # --- Concord flows (see events/concord/program.py) -----------------------------------

    class FlowStarted(Aggregate.Event):
        """A Concord flow began: which flow, under which profiles, timeout and limits."""

        flow: str
        profiles: list[str]
        timeout_seconds: float | None
        limits: dict[str, Any]
        handlers: list[str] | None = None  # the project's onFailure/onCancel/onTimeout flows (absent before they ran)

        def apply(self, i: ProcessInstance) -> None:
            i.concord = {"flow": self.flow, "profiles": list(self.profiles), "limits": dict(self.limits),
                         "handlers": list(self.handlers or [])}
            i.deadline = deadline_of(self.timestamp, self.timeout_seconds)

    class FlowStepStarted(Aggregate.Event):
        step_id: str
        kind: str
        name: str | None
        file: str
        line: int

        def apply(self, i: ProcessInstance) -> None:
            i.steps_run += 1

    class FlowStepEnded(Aggregate.Event):
        step_id: str
        outcome: str

        def apply(self, i: ProcessInstance) -> None:
            pass

    class VariablesSet(Aggregate.Event):
        """Process variables set; a dotted key sets a value inside nested data."""

        values: dict[str, Any]

        def apply(self, i: ProcessInstance) -> None:
            for key, value in self.values.items():
                set_path(i.variables, key, value)

    class FlowPaused(Aggregate.Event):
        """The flow waits (`wait`: a form, an event or a task); `frames` is where it resumes."""

        wait: dict[str, Any]
        frames: list[dict[str, Any]]

        def apply(self, i: ProcessInstance) -> None:
            i.paused = {"wait": self.wait, "frames": self.frames}

    class FormWaiting(Aggregate.Event):
        """A form waits on a person, with each field as it is shown (value, allowed values)."""

        form: str
        step_id: str
        fields: list[dict[str, Any]]

        def apply(self, i: ProcessInstance) -> None:
            i.forms_waiting[self.form] = {"step": self.step_id, "fields": self.fields}

    class FormSubmitted(Aggregate.Event):
        form: str
        values: dict[str, Any]
        user: str

        def apply(self, i: ProcessInstance) -> None:
            i.forms_waiting.pop(self.form, None)

    def __init__(
        self, definition_id: str, definition_key: str, definition_version: int, initiator: str,
        owner: str | None, target_id: str | None, parameters: dict[str, Any], form_data: dict[str, Any],
        documents: list[str], assignment: dict[str, Any], attributes: dict[str, Any],
    ) -> None:
        self.definition_id, self.definition_key, self.definition_version = definition_id, definition_key, definition_version
        self.initiator, self.owner, self.target_id = initiator, owner, target_id
        self.parameters, self.form_data, self.documents = dict(parameters), dict(form_data), list(documents)
        self.assignment, self.attributes = dict(assignment), dict(attributes)
        self.status = S.CREATED
        self.scheduled_for: datetime | None = None
        self.started_at: datetime | None = None
        self.ended_at: datetime | None = None
        self.start_event: str | None = None
        self.end_event: str | None = None
        self.element: str | None = None  # the current task, or the end event reached
        self.element_kind: str | None = None
        self.triggers: list[str] = []
        self.tokens: dict[str, Token] = {}  # the active executions by id, in the order they entered their tasks
        self.tokens_made = 0  # how many tokens the flow has made: the next one is named str(tokens_made + 1)
        self.joins: dict[str, dict[str, list[str]]] = {}  # tokens waiting at a parallel join, by gateway and incoming flow
        self.flow = 0  # how many elements the flow has entered (a face may number steps by it)
        self.visits: list[Visit] = []
        self.pending_task: str | None = None
        self.results: dict[str, dict[str, Any]] = {}
        self.output_lines = 0  # the lines themselves are read from the events, not kept here
        self.files: dict[str, dict[str, Any]] = {}
        self.stop_requested = False
        self.failure: str | None = None
        self.deleted = False
        self.concord: dict[str, Any] | None = None  # set when a Concord flow starts
        self.variables: dict[str, Any] = {}
        self.steps_run = 0
        self.paused: dict[str, Any] | None = None
        self.forms_waiting: dict[str, dict[str, Any]] = {}
        self.deadline: datetime | None = None
        self.delivered = False  # whether data arrived since the current task began (a task may wait for it)

    # --- reading --------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        """Whether the flow was started."""
        return self.started_at is not None

    @property
    def current_task(self) -> str | None:
        """The task the instance is at, while it is running or waiting."""
        return self.element if self.status in (S.RUNNING, S.WAITING) and self.element_kind != NodeKind.END_EVENT else None

    def token_at(self, element_id: str) -> str:
        """The id of the token active at an element (the root token when none is: the flow is starting)."""
        return next((t.id for t in self.tokens.values() if t.element_id == element_id), ROOT_TOKEN)

    def facts(self, action: str | None = None, *, delivered: bool = False) -> Facts:
        """The data conditions and exit rules look at (`delivered`: the caller vouches the awaited data came)."""
        return Facts(self.form_data, tuple(self.documents), self.parameters, action, self.delivered or delivered)

    def active_tasks(self, graph: FlowGraph) -> list[str]:
        """The tasks active tokens wait at, in document order (Altinn's `currentTask` is the first user task)."""
        active = {t.element_id for t in self.tokens.values() if t.kind != NodeKind.PARALLEL_GATEWAY}
        return [n for n in graph.nodes if n in active]

    def show_tokens(self) -> None:
        """Show the first active task token as `element` and set the status (used by apply handlers only)."""
        at_tasks = [t for t in self.tokens.values() if t.kind != NodeKind.PARALLEL_GATEWAY]
        if at_tasks:
            first = at_tasks[0]
            self.element, self.element_kind, self.triggers = first.element_id, first.kind, list(first.triggers)
            # Waiting while a person can act on any token; running while only workers can.
            waiting = any(t.kind != NodeKind.SERVICE_TASK for t in at_tasks)
            self.status = S.WAITING if waiting else S.RUNNING

    def close_visit(self, when: datetime, outcome: str, element_id: str | None = None) -> None:
        """End the open visit (of `element_id`), keeping the data as it stood (used by apply handlers only)."""
        visit = next((v for v in reversed(self.visits) if v.ended is None and element_id in (None, v.element_id)),
                     self.visits[-1])
        visit.ended, visit.outcome = when, outcome
        visit.form_data, visit.documents, visit.assignment = dict(self.form_data), list(self.documents), dict(self.assignment)

    # --- commands -------------------------------------------------------------------------

    def schedule(self, start_at: datetime, user: str) -> None:
        """Set a time to start at; only before the flow starts."""
        self._require_not_started()
        self.trigger_event(self.Scheduled, start_at=start_at, user=user)

    def check_start(self, graph: FlowGraph, start_event: str | None) -> None:
        """Refuse now a start event the flow could not start at later (a scheduled start); records nothing."""
        self._require_not_started()
        _engine(graph).check_start(graph, self, start_event)

    def start(self, graph: FlowGraph, start_event: str | None, user: str) -> None:
        """Start the flow at a start event and run it to its first wait or its end."""
        self._require_not_started()
        _engine(graph).start(graph, self, start_event, user)

    def next(self, graph: FlowGraph, target: str | None, action: str | None, user: str, *, delivered: bool = False) -> str:
        """Leave the current user task for `target` (or the only reachable element); returns it.

        `delivered`: the caller (an admin) vouches that the data a task waits for has come. With
        several tokens active, `target` may name an active user task (it is left along its only way
        on); otherwise the task left is the first active user task, in document order, from which
        `target` can be reached (or simply the first).
        """
        current = self._waiting_task()
        tasks = [t for t in self.active_tasks(graph) if graph.node(t).kind is not NodeKind.SERVICE_TASK]
        if len(tasks) > 1:
            if target in tasks:
                current, target = target, None
            else:
                reaching = [t for t in tasks if target in {s.target for s in next_steps(graph, t, self.facts(action))}]
                current = (reaching or tasks)[0]
        return _engine(graph).move_on(graph, self, current, target, action, user, delivered=delivered)

    def fire(self, graph: FlowGraph, trigger: str, user: str) -> str:
        """Fire a named trigger of the current state (Hackney); returns the state entered."""
        if self.deleted or self.status is not S.WAITING or self.element is None:
            raise InvalidTrigger(f"Cannot trigger {trigger} from state {self.element or self.status}", [f"trigger: {trigger!r} is not permitted"])
        return _engine(graph).fire(graph, self, trigger, user)

    def complete_process(self, graph: FlowGraph, user: str) -> list[str]:
        """Move task by task towards an end; the problems where it had to stop (empty at an end).

        It stops without a problem at an automated task: its worker moves the flow on, and the
        caller (the application service) decides whether to wait for it and go on.
        """
        if self.pending_task is None or self.status is not S.RUNNING or self.deleted:
            self._waiting_task()
        return _engine(graph).complete_process(graph, self, user)

    def submit(self, form_data: dict[str, Any], user: str) -> None:
        """Merge submitted form fields into the instance's form data."""
        self._require_live()
        changed = {k: v for k, v in form_data.items() if self.form_data.get(k, object()) != v}
        if changed:
            self.trigger_event(self.FormDataSubmitted, form_data=changed, user=user)

    def attach(self, documents: list[str], user: str) -> None:
        """Attach document references not attached yet."""
        self._require_live()
        for document in dict.fromkeys(documents):
            if document not in self.documents:
                self.trigger_event(self.DocumentAttached, document=document, user=user)

    def assign(self, assignment: dict[str, Any], user: str) -> None:
        """Give the instance a new assignment."""
        self._require_live()
        if assignment != self.assignment:
            self.trigger_event(self.AssignmentChanged, assignment=assignment, user=user)

    def complete_automated(self, graph: FlowGraph, element_id: str, result: dict[str, Any], user: str) -> None:
        """A worker finished an automated task: record it and move the flow on."""
        self._require_pending(element_id)
        _engine(graph).task_done(graph, self, element_id, result, None, user)

    def fail_automated(self, graph: FlowGraph, element_id: str, error: str, user: str) -> None:
        """A worker could not finish an automated task: the instance fails (a Concord flow may handle it)."""
        self._require_pending(element_id)
        _engine(graph).task_done(graph, self, element_id, None, error, user)

    def form_errors(self, graph: FlowGraph, form: str, values: dict[str, Any]) -> dict[str, str]:
        """The errors by field a submission of a waiting form would get (empty: accepted); records nothing."""
        self._require_live()
        return _engine(graph).form_errors(graph, self, form, values)

    def submit_form(self, graph: FlowGraph, form: str, values: dict[str, Any], user: str, now: datetime) -> dict[str, str]:
        """Submit a waiting form; when accepted the flow runs on. The errors by field (empty: accepted)."""
        self._require_live()
        return _engine(graph).submit_form(graph, self, form, values, user, now)

    def resume_event(self, graph: FlowGraph, event: str, user: str, now: datetime) -> None:
        """The event the flow waits for came: it runs on."""
        self._require_live()
        _engine(graph).resume_event(graph, self, event, user, now)

    def time_out(self, graph: FlowGraph, now: datetime, user: str) -> bool:
        """Whatever timer of the instance is due by `now` fires (today: a processTimeout); whether one did."""
        return _engine(graph).timer_fired(graph, self, now, user)

    def append_output(self, text: str, stream: str = "stdout") -> None:
        """Add one line of console output, timed by the event."""
        self.append_lines([["", stream, text]])

    def append_lines(self, lines: list[list[str]]) -> None:
        """Add a batch of console lines, each `[line_time(...), stream, text]`, as one event."""
        self._require_live()
        if lines:
            self.trigger_event(self.OutputAppended, lines=[list(line) for line in lines])

    def attach_file(self, name: str, size: int, media_type: str, digest: str, kind: str = "output") -> None:
        """Record an output file, input file or attachment stored elsewhere."""
        self._require_live()
        self.trigger_event(self.FileAttached, name=name, size=size, media_type=media_type, digest=digest, kind=kind)

    def stop(self, user: str, reason: str | None) -> bool:
        """Stop the instance (a running automated task first hears a request); False if already over."""
        self._require_live()
        if self.status.finished:
            return False
        if self.pending_task is not None and not self.stop_requested:
            self.trigger_event(self.StopRequested, user=user, reason=reason)
            return True
        self.trigger_event(self.Stopped, user=user, reason=reason)
        return True

    def fail(self, reason: str) -> None:
        """Record that the instance failed (a timeout, a lost worker)."""
        self._require_live()
        if not self.status.finished:
            self.trigger_event(self.Failed, reason=reason)

    def delete(self, user: str, reason: str | None) -> None:
        """Tombstone the instance: reads hide it, the log keeps who and why."""
        self._require_live()
        self.trigger_event(self.Deleted, user=user, reason=reason)

    # --- internals --------------------------------------------------------------------------

    def _waiting_task(self) -> str:
        self._require_live()
        if not self.started:
            raise FlowConflict("Process is not started. Use start!")
        if self.status.finished:
            raise FlowConflict("Process is ended. It cannot be restarted.")
        if self.status is not S.WAITING or self.element is None:
            raise FlowConflict(f"an automated task ({self.pending_task}) is running; it moves on by itself")
        return self.element

    def _require_not_started(self) -> None:
        self._require_live()
        if self.started:
            raise FlowConflict("Process is already started. Use next.")
        if self.status.finished:
            raise FlowConflict("Process is ended. It cannot be restarted.")

    def _require_pending(self, element_id: str) -> None:
        self._require_live()
        if self.pending_task != element_id or self.status.finished:
            raise Conflict(f"no automated task {element_id!r} is waiting for a result")

    def _require_live(self) -> None:
        if self.deleted:
            raise NotFound("the process instance was deleted")


def _engine(graph: FlowGraph) -> Program:
    if graph.program is None:
        raise Conflict("the process's graph has no engine to run it")
    return graph.program
