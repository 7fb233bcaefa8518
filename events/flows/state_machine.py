"""Hackney-style state machines in JSON, compiled to the same `FlowGraph` as BPMN.

The format (our own; the Hackney document shows only instances, not configurations):

    {"initialState": "ApplicationStarted",            # optional: the first state listed
     "states": {
       "ApplicationStarted": {
         "assignment": {"patch": "housingofficers"},   # given to the instance on entry
         "requires": {"formData": true, "documents": 1},   # or "formData": ["field", ...]
         "triggers": {
           "AttachDocuments": "DocumentsAttached",
           "CheckEligibility": [                        # internal branching on form data:
             {"when": "age >= 18", "target": "Eligible"},     # first true condition wins,
             {"target": "NotEligible"}]}},                    # a branch without `when` is the default
       "ApplicationSubmitted": {"final": true}}}

Invariant: a state becomes a user task named after it, a final state an end event, a trigger a
named flow, and a branching trigger a flow into an exclusive gateway that picks its first true
condition. Anything else is refused, naming the state or trigger at fault.
"""

from __future__ import annotations

import json
import re
from typing import Any

from events.flows.graph import Flow, FlowGraph, Node, NodeKind, WorkflowError, graph_problems
from events.flows.walker import WALKER

START = "#start"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$")
_STATE_KEYS = frozenset({"name", "assignment", "requires", "triggers", "final"})
_REQUIRE_KEYS = frozenset({"formData", "documents"})
_TOP_KEYS = frozenset({"initialState", "states"})


def compile_state_machine(workflow: dict[str, Any]) -> FlowGraph:
    """The graph of a JSON state machine; raises `WorkflowError` listing every problem."""
    problems: list[str] = [f"unsupported key {k!r}" for k in workflow if k not in _TOP_KEYS]
    states = workflow.get("states")
    if not isinstance(states, dict) or not states:
        raise WorkflowError("invalid state machine", ["states: a non-empty object is required"])
    initial = workflow.get("initialState", next(iter(states)))
    if initial not in states:
        problems.append(f"initialState {initial!r} is not a state")
    nodes: dict[str, Node] = {START: Node(START, NodeKind.START_EVENT)}
    flows: list[Flow] = [Flow(f"{START}>{initial}", START, str(initial))]
    for name, spec in states.items():
        problems.extend(_state(name, spec, states, nodes, flows))
    graph = FlowGraph(nodes=nodes, flows=tuple(flows), program=WALKER)
    problems.extend(graph_problems(graph) if not problems else [])
    if problems:
        raise WorkflowError("invalid state machine", problems)
    return graph


def _state(name: str, spec: Any, states: dict[str, Any], nodes: dict[str, Node], flows: list[Flow]) -> list[str]:
    if not _NAME.match(name):
        return [f"state {name!r}: a name is a letter then letters, digits, '_', '.' or '-'"]
    if not isinstance(spec, dict):
        return [f"state {name}: must be an object"]
    problems = [f"state {name}: unsupported key {k!r}" for k in spec if k not in _STATE_KEYS]
    extensions: dict[str, str] = {}
    if "assignment" in spec:
        if not isinstance(spec["assignment"], dict):
            problems.append(f"state {name}: assignment must be an object")
        extensions["assignment"] = json.dumps(spec["assignment"], sort_keys=True)
    problems.extend(_requires(name, spec.get("requires", {}), extensions))
    triggers = spec.get("triggers", {})
    if spec.get("final"):
        if triggers:
            problems.append(f"state {name}: a final state has no triggers")
        nodes[name] = Node(name, NodeKind.END_EVENT, name=spec.get("name") or name)
        return problems
    if not isinstance(triggers, dict) or not triggers:
        return [*problems, f"state {name}: needs triggers, or \"final\": true"]
    nodes[name] = Node(name, NodeKind.USER_TASK, name=spec.get("name") or name, extensions=extensions)
    for trigger, target in triggers.items():
        problems.extend(_trigger(name, trigger, target, states, nodes, flows))
    return problems


def _requires(name: str, requires: Any, extensions: dict[str, str]) -> list[str]:
    if not isinstance(requires, dict):
        return [f"state {name}: requires must be an object"]
    problems = [f"state {name}: unsupported requirement {k!r}" for k in requires if k not in _REQUIRE_KEYS]
    form = requires.get("formData")
    if form is True:
        extensions["requiredFormData"] = "*"
    elif isinstance(form, list) and all(isinstance(f, str) and f for f in form):
        extensions["requiredFormData"] = ",".join(form)
    elif form not in (None, False):
        problems.append(f"state {name}: requires.formData is true or a list of field names")
    documents = requires.get("documents", 0)
    if isinstance(documents, bool) or not isinstance(documents, int) or documents < 0:
        problems.append(f"state {name}: requires.documents is a number of documents")
    elif documents:
        extensions["requiredDocuments"] = str(documents)
    return problems


def _trigger(
    name: str, trigger: str, target: Any, states: dict[str, Any], nodes: dict[str, Node], flows: list[Flow]
) -> list[str]:
    where = f"state {name}, trigger {trigger!r}"
    if not _NAME.match(trigger):
        return [f"{where}: a trigger name is a letter then letters, digits, '_', '.' or '-'"]
    if isinstance(target, str):
        if target not in states:
            return [f"{where}: target {target!r} is not a state"]
        flows.append(Flow(f"{name}>{trigger}", name, target, name=trigger))
        return []
    if not isinstance(target, list) or not target:
        return [f"{where}: the target is a state name or a list of {{when, target}} branches"]
    gateway = f"{name}#{trigger}"
    nodes[gateway] = Node(gateway, NodeKind.EXCLUSIVE_GATEWAY, extensions={"choice": "first"})
    flows.append(Flow(f"{name}>{trigger}", name, gateway, name=trigger))
    problems: list[str] = []
    default: str | None = None
    for n, branch in enumerate(target):
        flow_id = f"{gateway}>{n}"
        if not isinstance(branch, dict) or set(branch) - {"when", "target"} or branch.get("target") not in states:
            problems.append(f"{where}, branch {n}: needs a target state and an optional when")
            continue
        when = branch.get("when")
        if when is None:
            if default is not None:
                problems.append(f"{where}: only one branch may lack a condition")
            default = flow_id
        elif not isinstance(when, (str, list)):
            problems.append(f"{where}, branch {n}: when is text or a JSON expression")
            continue
        condition = None if when is None else when if isinstance(when, str) else json.dumps(when)
        flows.append(Flow(flow_id, gateway, branch["target"], condition=condition))
    if default is not None:
        nodes[gateway] = Node(gateway, NodeKind.EXCLUSIVE_GATEWAY, extensions={"choice": "first"}, default_flow=default)
    return problems
