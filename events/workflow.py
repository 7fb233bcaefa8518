"""One entry point from a configuration to the graph an instance runs, and the engine it runs on.

Each kind of workflow value has one compiler, tried in order below: a Concord project
(`events/concord/`), a BPMN document or a JSON state machine (`events/flows/`), or a bare script
run as a one-task flow. Every compiler gives a `FlowGraph` whose `program` is the engine its
instances run on (`events/flows/program.py`); a new engine is a new package with a compiler and
one branch here, and nothing else in the domain chooses between engines.

Invariant: `compile_workflow` is a pure function of the configuration, so an instance that
records its definition version can always rebuild the exact graph it was started on.
"""

from __future__ import annotations

from typing import Any

from events.concord.compiler import concord_graph, concord_project, is_concord
from events.concord.runtime import RunLimits
from events.expressions import condition_problems
from events.flows.bpmn import parse_bpmn
from events.flows.graph import Flow, FlowGraph, Node, NodeKind, WorkflowError
from events.flows.state_machine import compile_state_machine
from events.flows.walker import WALKER

SCRIPT_TASK = "script"


def compile_workflow(configuration: dict[str, Any], *, max_bytes: int = 1_048_576,
                     limits: RunLimits | None = None) -> FlowGraph:
    """The graph of a configuration's workflow, or of its script as a one-task flow.

    A `#key` reference must be resolved by the caller first. Raises `WorkflowError`.
    A Concord project (`{"concord": {file: text}}`, or the project itself as an object with
    `flows`) gives a graph that carries the compiled program, run under `limits`.
    """
    workflow = configuration.get("workflow")
    if is_concord(workflow):
        return concord_graph(concord_project(workflow, max_bytes=max_bytes), limits or RunLimits())
    if is_xml(workflow):
        graph = parse_bpmn(workflow, max_bytes=max_bytes)
    elif isinstance(workflow, dict):
        graph = compile_state_machine(workflow)
    elif configuration.get("script") and not workflow:
        return script_graph(str(configuration["script"]))
    else:
        raise WorkflowError("no workflow", ["workflow: a BPMN model, a state machine or a script is required"])
    problems = [
        f"sequenceFlow {f.id}: {p}" for f in graph.flows if f.condition for p in condition_problems(f.condition)
    ]
    if problems:
        raise WorkflowError("unsupported condition", problems)
    return graph


def is_xml(workflow: object) -> bool:
    """Whether a workflow value is an XML document (a BPMN model), byte-order mark allowed."""
    return isinstance(workflow, str) and workflow.lstrip("\ufeff \t\r\n").startswith("<")


def script_graph(script: str) -> FlowGraph:
    """A script run as a flow: start, one automated task that runs the script, end."""
    nodes = {
        "start": Node("start", NodeKind.START_EVENT),
        SCRIPT_TASK: Node(SCRIPT_TASK, NodeKind.SERVICE_TASK, name=script, extensions={"script": script}),
        "end": Node("end", NodeKind.END_EVENT),
    }
    flows = (Flow("f1", "start", SCRIPT_TASK), Flow("f2", SCRIPT_TASK, "end"))
    return FlowGraph(nodes=nodes, flows=flows, program=WALKER)
