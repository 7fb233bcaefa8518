"""One entry point from a configuration to the graph an instance runs.

Invariant: `compile_workflow` is a pure function of the configuration, so an instance that
records its definition version can always rebuild the exact graph it was started on.
"""

from __future__ import annotations

import json
from typing import Any

from events.concord.program import ConcordProgram
from events.concord.project import Project, load_project
from events.concord.runtime import RunLimits
from events.concord.safe_yaml import YamlLimits
from events.expressions import condition_problems
from events.flows.bpmn import parse_bpmn
from events.flows.graph import Flow, FlowGraph, Node, NodeKind, WorkflowError
from events.flows.state_machine import compile_state_machine

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
    return FlowGraph(nodes=nodes, flows=flows)


CONCORD = "concord"


def is_concord(workflow: object) -> bool:
    """Whether a workflow value is a Concord project (its files, or the project as an object)."""
    return isinstance(workflow, dict) and (CONCORD in workflow or "flows" in workflow) and "states" not in workflow


def concord_project(workflow: dict[str, Any], *, max_bytes: int = 1_048_576) -> Project:
    """The compiled project of a Concord workflow value; WorkflowError listing every problem."""
    limits = YamlLimits(max_bytes=max_bytes)
    if CONCORD in workflow:
        files = workflow[CONCORD]
        if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
            raise WorkflowError("invalid Concord project", ["workflow.concord: an object of file names to YAML texts"])
        if sum(len(v) for v in files.values()) > max_bytes:
            raise WorkflowError("project too large", [f"the project files hold more than {max_bytes} bytes"])
        return load_project(files, limits)
    return load_project({"concord.yml": json.dumps(workflow)}, limits)  # JSON is YAML: one reader for both


def concord_graph(project: Project, limits: RunLimits) -> FlowGraph:
    """The graph other faces see of a Concord project: its forms, events and tasks as tasks."""
    nodes: dict[str, Node] = {"start": Node("start", NodeKind.START_EVENT)}
    for block in project.blocks.values():
        for step in block:
            if step.kind == "form":
                nodes.setdefault(step.args["form"], Node(step.args["form"], NodeKind.USER_TASK, name=step.args["form"], task_type="form"))
            elif step.kind == "suspend":
                nodes.setdefault(step.args["event"], Node(step.args["event"], NodeKind.USER_TASK, name=step.args["event"], task_type="event"))
            elif step.kind == "task":
                nodes[step.id] = Node(step.id, NodeKind.SERVICE_TASK, name=step.name or step.args["task"], task_type=step.args["task"])
    nodes["end"] = Node("end", NodeKind.END_EVENT)
    return FlowGraph(nodes=nodes, flows=(), program=ConcordProgram(project, limits))
