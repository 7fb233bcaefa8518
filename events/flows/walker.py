"""The graph walker: the `Program` of BPMN models, state machines and scripts run as a flow.

It moves an instance along its graph's flows with the pure rules of `events/flows/engine.py`:
start at a start event, stop at every task (a user task waits on a person, a service task asks a
worker), leave a task along its flows and gateways, end at an end event. A parallel gateway forks
one token per outgoing flow (`TokenForked`) and joins once a token waits on every incoming flow
(`TokenArrived`, then `TokensJoined`). An inclusive gateway forks along every flow whose condition
holds (or its default) and joins once no other token can still reach it; that is asked again
after every move, since a token leaving for elsewhere may be what the join waits on. A token
reaching an end event while others are active ends alone (`TokenEnded`), the last one ends the
instance (`Ended`). Token ids count up from the root token "1" in the order the tokens are made,
so replaying the events names them again the same. Forms and `suspend` events belong to Concord
flows; asked of a graph, they are refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from events.errors import Conflict
from events.flows.engine import (
    FlowConflict, Step, choose, entry_assignment, exit_problems, fire, fork_steps, next_steps, permitted_triggers,
    start_step, unnamed,
)
from events.flows.graph import TOKEN_GATEWAYS, FlowGraph, NodeKind
from events.instance_state import ROOT_TOKEN, InstanceStatus

if TYPE_CHECKING:
    from events.instance import ProcessInstance

__all__ = ["GraphWalker", "WALKER"]

_COMPLETE_PROCESS_LIMIT = 100
_NOT_CONCORD = "the process does not run a Concord project"


class GraphWalker:
    """See the module docstring; stateless, so one `WALKER` serves every graph."""

    def check_start(self, graph: FlowGraph, instance: ProcessInstance, start_event: str | None) -> None:
        """Refuse a start event that is not one of the graph's (or none named where there are several)."""
        start_step(graph, start_event, instance.facts())

    def start(self, graph: FlowGraph, instance: ProcessInstance, start_event: str | None, user: str) -> None:
        """Leave the start event for the first task (or end)."""
        chosen, step = start_step(graph, start_event, instance.facts())
        instance.trigger_event(instance.Started, start_event=chosen, user=user)
        _enter(graph, instance, step, user, ROOT_TOKEN)

    def move_on(self, graph: FlowGraph, instance: ProcessInstance, current: str, target: str | None,
                action: str | None, user: str, *, delivered: bool) -> str:
        """Leave the current task for `target`, the action's branch, or the only reachable element."""
        action = action or graph.node(current).default_action
        step = choose(graph, current, instance.facts(action), target)
        _leave(graph, instance, current, step, action, None, user, delivered=delivered)
        _wake_joins(graph, instance, user)
        return step.target

    def fire(self, graph: FlowGraph, instance: ProcessInstance, trigger: str, user: str) -> str:
        """Leave the current state along the flow named `trigger` (Hackney)."""
        step = fire(graph, instance.element or "", trigger, instance.facts())
        _leave(graph, instance, instance.element or "", step, None, trigger, user)
        return step.target

    def complete_process(self, graph: FlowGraph, instance: ProcessInstance, user: str) -> list[str]:
        """Move on task by task; an automated task stops it without a problem (its worker moves on)."""
        for _ in range(_COMPLETE_PROCESS_LIMIT):
            if instance.status is not InstanceStatus.WAITING:
                return []
            try:
                instance.next(graph, None, None, user)
            except FlowConflict as stop:
                return [stop.detail, *stop.problems]
        return [f"possible loop: the process did not end within {_COMPLETE_PROCESS_LIMIT} steps"]

    def task_done(self, graph: FlowGraph, instance: ProcessInstance, element_id: str,
                  result: dict[str, Any] | None, error: str | None, user: str) -> None:
        """A finished automated task moves the flow on; a failed one fails the instance."""
        token = instance.token_at(element_id)
        if error is not None:
            instance.trigger_event(instance.AutomatedTaskFailed, element_id=element_id, error=error, token=token)
            instance.trigger_event(instance.Failed, reason=f"automated task {element_id} failed: {error}")
            return
        instance.trigger_event(instance.AutomatedTaskCompleted, element_id=element_id, result=result or {}, token=token)
        steps = unnamed(next_steps(graph, element_id, instance.facts()))
        if len(steps) != 1:
            instance.trigger_event(instance.Failed, reason=f"{len(steps)} elements can follow automated task {element_id}, not one")
            return
        instance.trigger_event(instance.TaskEnded, element_id=element_id, action=None, trigger=None, user=user, token=token)
        _enter(graph, instance, steps[0], user, token)
        _wake_joins(graph, instance, user)

    def form_errors(self, graph: FlowGraph, instance: ProcessInstance, form: str, values: dict[str, Any]) -> dict[str, str]:
        """Refused: a graph's tasks take form data through `next` and updates, not Concord forms."""
        raise Conflict(_NOT_CONCORD)

    def submit_form(self, graph: FlowGraph, instance: ProcessInstance, form: str, values: dict[str, Any],
                    user: str, now: datetime) -> dict[str, str]:
        """Refused, as `form_errors`."""
        raise Conflict(_NOT_CONCORD)

    def resume_event(self, graph: FlowGraph, instance: ProcessInstance, event: str, user: str, now: datetime) -> None:
        """Refused: a graph waits on tasks, not on `suspend` events."""
        raise Conflict(_NOT_CONCORD)

    def timer_fired(self, graph: FlowGraph, instance: ProcessInstance, now: datetime, user: str) -> bool:
        """A graph has no timers yet: nothing changes."""
        return False


WALKER = GraphWalker()


def _enter(graph: FlowGraph, instance: ProcessInstance, step: Step, user: str, token: str) -> None:
    node = graph.node(step.target)
    if node.kind in TOKEN_GATEWAYS:
        _pass_gateway(graph, instance, step, user, token)
        return
    if node.kind is NodeKind.END_EVENT:
        if any(other != token for other in instance.tokens) or instance.joins:
            instance.trigger_event(instance.TokenEnded, end_event=node.id, via=list(step.via), user=user, token=token)
            _wake_joins(graph, instance, user)
            if not instance.tokens and instance.joins and not instance.status.finished:
                # No token is left that could reach the join: the model can never finish (Camunda's stuck instance).
                gateway = next(iter(instance.joins))
                instance.trigger_event(instance.Failed, reason=f"gateway {gateway} waits for branches no token can take")
            return
        instance.trigger_event(instance.Ended, end_event=node.id, via=list(step.via), user=user, token=token)
        return
    instance.trigger_event(
        instance.TaskStarted, element_id=node.id, kind=str(node.kind), name=node.name, task_type=node.task_type,
        via=list(step.via), triggers=permitted_triggers(graph, node.id), assignment=entry_assignment(node), user=user,
        token=token,
    )
    if node.kind is NodeKind.SERVICE_TASK:
        script = node.extensions.get("script") or node.task_type or node.id
        instance.trigger_event(instance.AutomatedTaskRequested, element_id=node.id, script=script,
                               parameters=dict(instance.parameters), token=token)


def _pass_gateway(graph: FlowGraph, instance: ProcessInstance, step: Step, user: str, token: str) -> None:
    """A token at a parallel or inclusive gateway: wait there until the join may fire, then fork (or go on)."""
    gateway = step.target
    if len(graph.incoming(gateway)) > 1:
        instance.trigger_event(instance.TokenArrived, element_id=gateway, via=list(step.via), token=token, user=user)
        joined = _joinable(graph, instance, gateway)
        if joined is None:
            if not instance.tokens:
                instance.trigger_event(instance.Failed, reason=f"gateway {gateway} waits for branches no token can take")
            return
        token = _join(instance, gateway, joined, user)
    _fork(graph, instance, gateway, user, token)


def _joinable(graph: FlowGraph, instance: ProcessInstance, gateway: str) -> list[str] | None:
    """The tokens a join lets go on now, or None while it must wait.

    Parallel: one token on every incoming flow. Inclusive: every token waiting there, once no other
    token (active, or waiting at another join) can still reach the gateway.
    """
    waiting = instance.joins.get(gateway, {})
    if graph.node(gateway).kind is NodeKind.PARALLEL_GATEWAY:
        incoming = graph.incoming(gateway)
        return None if any(not waiting.get(f.id) for f in incoming) else [waiting[f.id][0] for f in incoming]
    elsewhere = [t.element_id for t in instance.tokens.values()]
    elsewhere += [g for g in instance.joins if g != gateway]  # tokens held at another join go on from there
    if not waiting or any(graph.reaches(element, gateway) for element in elsewhere):
        return None
    return [t for tokens in waiting.values() for t in tokens]


def _join(instance: ProcessInstance, gateway: str, joined: list[str], user: str) -> str:
    token = str(instance.tokens_made + 1)
    instance.trigger_event(instance.TokensJoined, element_id=gateway, joined=joined, token=token, user=user)
    return token


def _wake_joins(graph: FlowGraph, instance: ProcessInstance, user: str) -> None:
    """Fire each inclusive join that no token can reach any more (after a token moved elsewhere)."""
    while not instance.status.finished:
        ready = next(((g, joined) for g in list(instance.joins)
                      if graph.node(g).kind is NodeKind.INCLUSIVE_GATEWAY
                      and (joined := _joinable(graph, instance, g)) is not None), None)
        if ready is None:
            return
        _fork(graph, instance, ready[0], user, _join(instance, ready[0], ready[1], user))


def _fork(graph: FlowGraph, instance: ProcessInstance, gateway: str, user: str, token: str) -> None:
    steps = fork_steps(graph, gateway, instance.facts())
    if len(steps) == 1:
        _enter(graph, instance, steps[0], user, token)
        return
    children = [str(instance.tokens_made + n) for n in range(1, len(steps) + 1)]
    instance.trigger_event(instance.TokenForked, element_id=gateway, token=token, children=children,
                           flows=[s.via[0] for s in steps], user=user)
    for child, child_step in zip(children, steps, strict=True):
        if instance.status.finished:
            return  # a branch failed the instance: the others go no further
        _enter(graph, instance, child_step, user, child)


def _leave(graph: FlowGraph, instance: ProcessInstance, current: str, step: Step, action: str | None,
           trigger: str | None, user: str, *, delivered: bool = False) -> None:
    node = graph.node(current)
    token = instance.token_at(node.id)
    rejectable = action == "reject" and "reject" in node.extensions.get("actions", "").split(",")
    if step.abandon or rejectable:
        instance.trigger_event(instance.TaskAbandoned, element_id=node.id, action=action, user=user, token=token)
    else:
        if problems := exit_problems(node, instance.facts(action, delivered=delivered)):
            raise FlowConflict(f"Cannot complete/close current task {node.id}", problems)
        instance.trigger_event(instance.TaskEnded, element_id=node.id, action=action, trigger=trigger, user=user,
                               token=token)
    _enter(graph, instance, step, user, token)
