"""One entry point from a configuration to the graph an instance runs.

Invariant: `compile_workflow` is a pure function of the configuration, so an instance that
records its definition version can always rebuild the exact graph it was started on.
"""

from __future__ import annotations

from typing import Any

from events.bpmn import parse_bpmn
from events.expressions import condition_problems
from events.flow import Flow, FlowGraph, Node, NodeKind, WorkflowError
from events.state_machine import compile_state_machine

SCRIPT_TASK = "script"


def compile_workflow(configuration: dict[str, Any], *, max_bytes: int = 1_048_576) -> FlowGraph:
    """The graph of a configuration's workflow, or of its script as a one-task flow.

    A `#key` reference must be resolved by the caller first. Raises `WorkflowError`.
    """
    workflow = configuration.get("workflow")
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
    return FlowGraph(nodes=nodes, flows=flows)
