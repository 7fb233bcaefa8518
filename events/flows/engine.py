"""The flow engine: which element comes next, given a graph, the current element and the data.

Invariant: every function here is pure and deterministic (same graph, element and facts give
the same answer), so an instance's state can always be rebuilt by replaying its events.

Gateway rules: a BPMN exclusive gateway lets through every flow whose condition holds plus every
flow without a condition (the caller chooses among several). A gateway with a default flow
takes it when no condition holds, even beside flows without a condition: those stay reachable,
but only when the caller names their target (`Step.named_only`), as a BPMN navigator that
follows the default leaves them. A gateway compiled from a state machine (`choice: first`)
takes its first flow whose condition holds, else its default. A parallel gateway is a stop of its
own (`fork_steps`): the walker's tokens wait at it and leave it along every outgoing flow, whose
conditions are ignored as Camunda and Zeebe ignore them. An inclusive gateway forks along every
flow whose condition holds or that has none, else its default flow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from events.errors import Conflict, MalformedInput
from events.expressions import Facts, holds
from events.flows.graph import FlowGraph, Node, NodeKind

ABANDON = "AbandonCurrentReturnToNext"
_MAX_GATEWAY_CHAIN = 64


class FlowConflict(Conflict):
    """The flow cannot move as asked in its current state; `problems` says why."""

    def __init__(self, detail: str, problems: list[str] | None = None) -> None:
        super().__init__(detail)
        self.problems = problems or []


class UnknownElement(MalformedInput):
    """A caller named an element the process does not have."""


class InvalidTrigger(MalformedInput):
    """A trigger that is not permitted in the current state."""


@dataclass(frozen=True)
class Step:
    """A move to `target`, through the flows and gateways in `via`."""

    target: str
    via: tuple[str, ...]
    abandon: bool = False
    named_only: bool = False  # beside a gateway's default flow: taken only when the caller names it


def unnamed(steps: list[Step]) -> list[Step]:
    """The steps a move that names no target chooses among."""
    return [s for s in steps if not s.named_only]


def next_steps(graph: FlowGraph, element: str, facts: Facts, *, trigger: str | None = None) -> list[Step]:
    """Every element reachable from `element` through gateways (only along `trigger`'s flow if named)."""
    steps: list[Step] = []
    for flow in graph.outgoing(element):
        if trigger is not None and flow.name != trigger:
            continue
        for step in _through(graph, flow.id, facts, (), 0):
            if step.target not in {s.target for s in steps}:
                steps.append(step)
    return steps


def _through(graph: FlowGraph, flow_id: str, facts: Facts, via: tuple[str, ...], depth: int) -> list[Step]:
    flow = graph.flow(flow_id)
    node = graph.node(flow.target)
    path = (*via, flow.id)
    abandon = flow.flow_type == ABANDON
    if node.kind is not NodeKind.EXCLUSIVE_GATEWAY:
        return [Step(node.id, path, abandon)]
    if depth >= _MAX_GATEWAY_CHAIN or node.id in path:
        return []  # a loop made only of gateways leads nowhere
    steps: list[Step] = []
    for chosen, named_only in _gateway_choice(graph, node, facts):
        for step in _through(graph, chosen, facts, (*path, node.id), depth + 1):
            steps.append(Step(step.target, step.via, step.abandon or abandon, step.named_only or named_only))
    return steps


def _gateway_choice(graph: FlowGraph, gateway: Node, facts: Facts) -> list[tuple[str, bool]]:
    """The flows a gateway lets through, each with whether it is taken only when named."""
    flows = [f for f in graph.outgoing(gateway.id) if f.id != gateway.default_flow]
    if gateway.extensions.get("choice") == "first":
        first = next((f.id for f in flows if f.condition is None or holds(f.condition, facts)), None)
        return [(first, False)] if first else ([(gateway.default_flow, False)] if gateway.default_flow else [])
    held = [f.id for f in flows if f.condition is not None and holds(f.condition, facts)]
    free = [f.id for f in flows if f.condition is None]
    if held or not gateway.default_flow:
        return [(f, False) for f in held + free]
    # No condition holds: the default flow is the way on; unconditioned flows only when named.
    return [(gateway.default_flow, False), *((f, True) for f in free)]


def fork_steps(graph: FlowGraph, gateway: str, facts: Facts) -> list[Step]:
    """One step per flow a parallel or inclusive gateway forks along, in document order (a token each).

    A flow that leads through exclusive gateways to no single element is a FlowConflict: a token
    cannot choose, so the fork cannot happen; so is an inclusive gateway that lets no flow through.
    """
    node, flows = graph.node(gateway), graph.outgoing(gateway)
    if node.kind is NodeKind.INCLUSIVE_GATEWAY:
        held = [f for f in flows if f.id != node.default_flow and (f.condition is None or holds(f.condition, facts))]
        flows = held or [f for f in flows if f.id == node.default_flow]
        if not flows:
            raise FlowConflict(f"no condition of inclusive gateway {gateway} holds and it has no default flow")
    steps: list[Step] = []
    for flow in flows:
        reached = unnamed(_through(graph, flow.id, facts, (), 0))
        if len(reached) != 1:
            raise FlowConflict(f"flow {flow.id} from parallel gateway {gateway} leads to {len(reached)} elements, not one")
        steps.append(reached[0])
    return steps


def choose(graph: FlowGraph, element: str, facts: Facts, target: str | None) -> Step:
    """The step to take from `element`: to `target` if given, else the only one reachable.

    Unknown target: UnknownElement (400). The current element, an unreachable one, none
    reachable, or several and none chosen: FlowConflict (409).
    """
    steps = next_steps(graph, element, facts)
    if target is not None:
        if target not in graph.nodes:
            raise UnknownElement(f"the process has no element {target!r}", [f"id: {target!r} is unknown"])
        if target == element:
            raise FlowConflict(f"{target!r} is the current element")
        for step in steps:
            if step.target == target:
                return step
        raise FlowConflict(f"the proposed next element id {target!r} is not among the available next process elements")
    steps = unnamed(steps)
    if len(steps) == 1:
        return steps[0]
    if not steps:
        raise FlowConflict(f"no next element can be reached from {element!r}")
    raise FlowConflict(
        f"there are more than one outgoing sequence flows from {element!r}, please select one",
        [f"choose one of: {', '.join(s.target for s in steps)}"],
    )


def fire(graph: FlowGraph, element: str, trigger: str, facts: Facts) -> Step:
    """The step a named trigger takes from `element`; InvalidTrigger (400) if not permitted."""
    if trigger not in permitted_triggers(graph, element):
        raise InvalidTrigger(f"Cannot trigger {trigger} from state {element}", [f"trigger: {trigger!r} is not permitted"])
    steps = unnamed(next_steps(graph, element, facts, trigger=trigger))
    if len(steps) != 1:
        raise FlowConflict(f"trigger {trigger} from state {element} leads to {len(steps)} states, not one")
    return steps[0]


def start_step(graph: FlowGraph, start_event: str | None, facts: Facts) -> tuple[str, Step]:
    """The start event to use and the first step after it."""
    starts = [n.id for n in graph.start_events()]
    if start_event is None and len(starts) > 1:
        raise FlowConflict(f"there are more than one start events available. Chose one: {starts}")
    chosen = start_event or starts[0]
    if chosen not in starts:
        raise FlowConflict("No matching startevent", [f"startEvent: {chosen!r} is not a start event"])
    return chosen, choose(graph, chosen, facts, None)


def permitted_triggers(graph: FlowGraph, element: str) -> list[str]:
    """The names of the flows leaving `element`, in order (Hackney's permittedTriggers)."""
    names: list[str] = []
    for flow in graph.outgoing(element):
        if flow.name and flow.name not in names:
            names.append(flow.name)
    return names


def exit_problems(node: Node, facts: Facts) -> list[str]:
    """What must still hold before `node` can be left (empty when it can)."""
    problems: list[str] = []
    required = node.extensions.get("requiredFormData")
    if required == "*" and not facts.form_data:
        problems.append(f"{node.id}: form data is required before leaving this state")
    elif required and required != "*":
        for name in required.split(","):
            if facts.form_data.get(name.strip()) in (None, ""):
                problems.append(f"{node.id}: form field {name.strip()!r} is required")
    if node.extensions.get("awaitsDelivery") == "true" and not facts.delivered:
        problems.append(f"{node.id}: waiting for data to be delivered to this task")
    documents = int(node.extensions.get("requiredDocuments", "0") or 0)
    if len(facts.documents) < documents:
        problems.append(f"{node.id}: at least {documents} document(s) must be attached, found {len(facts.documents)}")
    return problems


def entry_assignment(node: Node) -> dict[str, Any] | None:
    """The assignment a state gives the instance when entered, if it declares one."""
    raw = node.extensions.get("assignment")
    return json.loads(raw) if raw else None
