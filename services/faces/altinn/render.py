"""Altinn's shapes of an instance: process state, history, process events, and BPMN for any graph."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import quoteattr

from events.flows.engine import exit_problems
from events.flows.graph import FlowGraph, NodeKind
from events.instance import ProcessInstance as I
from services.common.times import iso_z

_PROCESS_EVENTS = {
    I.Started: "process:Start",
    I.TaskStarted: "process:StartTask",
    I.TaskEnded: "process:EndTask",
    I.TaskAbandoned: "process:AbandonTask",
    I.Ended: "process:EndEvent",  # the document's End Event example
}
_BPMN_TAGS = {
    NodeKind.START_EVENT: "startEvent", NodeKind.END_EVENT: "endEvent", NodeKind.USER_TASK: "task",
    NodeKind.SERVICE_TASK: "serviceTask", NodeKind.EXCLUSIVE_GATEWAY: "exclusiveGateway",
    NodeKind.PARALLEL_GATEWAY: "parallelGateway", NodeKind.INCLUSIVE_GATEWAY: "inclusiveGateway",
}


def process_state(instance: Any, graph: FlowGraph) -> dict[str, Any]:
    """`AppProcessState`: started, startEvent, currentTask, ended, endEvent.

    As the document's shapes: `currentTask` only while at a task, `ended`/`endEvent` only once
    ended (keys without a value are left out, not null). `started`/`startEvent` are always there,
    null before the start (how this face says "created, not started").
    """
    state: dict[str, Any] = {"started": iso_z(instance.started_at), "startEvent": instance.start_event}
    task = current_task(instance, graph)
    if task is not None:
        node = graph.node(task)
        visit = next((v for v in reversed(instance.visits) if v.element_id == task), instance.visits[-1])
        state["currentTask"] = {
            "flow": visit.flow,
            "started": iso_z(visit.started),
            "elementId": task,
            "name": node.name,
            "altinnTaskType": node.task_type,
            "validated": {"timestamp": iso_z(instance.modified_on), "canCompleteTask": not exit_problems(node, instance.facts())},
        }
    if instance.ended_at is not None:
        state["ended"] = iso_z(instance.ended_at)
    if instance.end_event is not None:
        state["endEvent"] = instance.end_event
    return state


def user_tasks(instance: Any, graph: FlowGraph) -> list[str]:
    """The active user tasks in document order (several after a parallel fork), else the current task."""
    if instance.current_task is None:
        return []
    tasks = [t for t in instance.active_tasks(graph) if graph.node(t).kind is NodeKind.USER_TASK]
    return tasks or [instance.current_task]


def current_task(instance: Any, graph: FlowGraph) -> str | None:
    """Altinn's `currentTask`: the first active user task in document order."""
    return next(iter(user_tasks(instance, graph)), None)


def process_history(instance: Any) -> list[dict[str, Any]]:
    """`processHistory`: the start event, each task with its times, the end event."""
    history = []
    for visit in instance.visits:
        if visit.kind == "task":
            history.append({"eventType": "process_StartTask", "elementId": visit.element_id, "flow": visit.flow,
                            "started": iso_z(visit.started), "ended": iso_z(visit.ended)})
        else:
            kind = "process_StartEvent" if visit.kind == "start" else "process_EndEvent"
            history.append({"eventType": kind, "elementId": visit.element_id, "occured": iso_z(visit.started)})
    return history


def process_events(events: list[Any], graph: FlowGraph) -> list[dict[str, Any]]:
    """The process events of an instance, each with the process as it stood just after it."""
    rendered, instance = [], None
    for event in events:
        instance = event.mutate(instance)
        name = _PROCESS_EVENTS.get(type(event))
        if name is None or instance is None:
            continue
        info = process_state(instance, graph)
        if isinstance(event, (I.TaskEnded, I.TaskAbandoned)):
            visit = instance.visits[-1]
            info["currentTask"] = {"flow": visit.flow, "started": iso_z(visit.started), "elementId": visit.element_id,
                                   "altinnTaskType": visit.task_type, "ended": iso_z(visit.ended)}
        if isinstance(event, (I.TaskStarted, I.TaskEnded, I.TaskAbandoned)) and "currentTask" in info:
            # The document's task events name the type `altinnTaskId`; the state's name stays beside it.
            info["currentTask"]["altinnTaskId"] = info["currentTask"]["altinnTaskType"]
        rendered.append({
            "instanceId": f"{instance.owner or 0}/{instance.id}",
            "eventType": name,
            "processInfo": info,
            "createdDateTime": iso_z(event.timestamp),
        })
    return rendered


def graph_to_bpmn(graph: FlowGraph) -> str:
    """A BPMN 2.0 document for a graph compiled from a state machine or a script."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Definitions">',
             f'  <bpmn:process id={quoteattr(graph.process_id or "Process")} isExecutable="true">']
    for node in graph.nodes.values():
        default = f" default={quoteattr(node.default_flow)}" if node.default_flow else ""
        name = f" name={quoteattr(node.name)}" if node.name else ""
        lines.append(f"    <bpmn:{_BPMN_TAGS[node.kind]} id={quoteattr(node.id)}{name}{default}/>")
    for flow in graph.flows:
        name = f" name={quoteattr(flow.name)}" if flow.name else ""
        head = f"    <bpmn:sequenceFlow id={quoteattr(flow.id)} sourceRef={quoteattr(flow.source)} targetRef={quoteattr(flow.target)}{name}"
        if flow.condition:
            condition = flow.condition.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            lines.append(f"{head}><bpmn:conditionExpression>{condition}</bpmn:conditionExpression></bpmn:sequenceFlow>")
        else:
            lines.append(f"{head}/>")
    lines += ["  </bpmn:process>", "</bpmn:definitions>", ""]
    return "\n".join(lines)
