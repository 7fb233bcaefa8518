"""A Concord workflow value to the graph an instance runs: the project, compiled, as a `FlowGraph`.

Invariant: pure; the same workflow value gives the same project and graph, so an instance that
records its definition version can always rebuild the program it was started on.
"""

from __future__ import annotations

import json
from typing import Any

from events.concord.program import ConcordProgram
from events.concord.project import Project, load_project
from events.concord.runtime import RunLimits
from events.concord.safe_yaml import YamlLimits
from events.flows.graph import FlowGraph, Node, NodeKind, WorkflowError

__all__ = ["CONCORD", "concord_graph", "concord_project", "is_concord"]

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
