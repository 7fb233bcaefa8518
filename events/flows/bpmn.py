"""A safe BPMN 2.0 reader that turns one process into a `FlowGraph`.

Invariant: a document is either turned into a graph the engine can walk, or
refused with a `WorkflowError` listing every problem; no other exception escapes
for bad input. DTDs, entities and external references are refused outright, so
entity expansion (billion laughs) and XXE cannot happen.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden

from events.flows.bpmn_extensions import flow_type, task_settings
from events.flows.graph import Flow, FlowGraph, Node, NodeKind, WorkflowError, graph_problems
from events.flows.walker import WALKER

__all__ = ["BPMN_NS", "DocumentTooLargeError", "WorkflowError", "parse_bpmn"]

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"

_NODE_KINDS = {
    "startEvent": NodeKind.START_EVENT,
    "endEvent": NodeKind.END_EVENT,
    "task": NodeKind.USER_TASK,
    "userTask": NodeKind.USER_TASK,
    "serviceTask": NodeKind.SERVICE_TASK,
    "scriptTask": NodeKind.SERVICE_TASK,
    "exclusiveGateway": NodeKind.EXCLUSIVE_GATEWAY,
    "parallelGateway": NodeKind.PARALLEL_GATEWAY,
    "inclusiveGateway": NodeKind.INCLUSIVE_GATEWAY,
}
# Carry no behaviour the engine must honour, so they are skipped, not refused.
_IGNORED_IN_PROCESS = frozenset({
    "documentation", "extensionElements", "laneSet", "textAnnotation", "association",
    "dataObject", "dataObjectReference", "dataStoreReference",
})
_ALLOWED_IN_NODE = frozenset({"documentation", "extensionElements", "incoming", "outgoing"})
# Data wiring around tasks only points at the ignored data objects above.
_ALLOWED_IN_TASK = _ALLOWED_IN_NODE | {
    "ioSpecification", "dataInputAssociation", "dataOutputAssociation", "property", "script",
}
_ALLOWED_IN_FLOW = frozenset({"documentation", "extensionElements", "conditionExpression"})


class DocumentTooLargeError(WorkflowError):
    """The document exceeds the size limit and was not parsed at all."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__("document too large", [f"document is {size} bytes; the limit is {limit}"])


def parse_bpmn(document: bytes | str, *, max_bytes: int = 1_048_576) -> FlowGraph:
    """Parse a BPMN 2.0 document into the graph of its (first executable) process.

    Raises `WorkflowError` for an oversized, unsafe, malformed or non-BPMN
    document, for unsupported elements and for structural defects.
    """
    root = _read_xml(document, max_bytes)
    if root.tag != f"{{{BPMN_NS}}}definitions":
        raise WorkflowError(
            "not a BPMN 2.0 document",
            [f"root element is {_describe(root)}, expected definitions in namespace {BPMN_NS}"],
        )
    processes = root.findall(f"{{{BPMN_NS}}}process")
    if not processes:
        raise WorkflowError("not a BPMN 2.0 document", ["definitions contains no process"])
    executable = [p for p in processes if p.get("isExecutable") == "true"]
    return _build_graph((executable or processes)[0])


def _read_xml(document: bytes | str, max_bytes: int) -> Element:
    data = document.encode("utf-8", "surrogatepass") if isinstance(document, str) else document
    if len(data) > max_bytes:
        raise DocumentTooLargeError(len(data), max_bytes)
    try:
        # Parse the caller's str as str: re-encoding could contradict its XML declaration.
        return safe_xml.fromstring(
            document, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as exc:
        raise WorkflowError("unsafe XML", [_unsafe_reason(exc)]) from None
    except ParseError as exc:
        raise WorkflowError("malformed XML", [str(exc)]) from None
    except (ValueError, LookupError) as exc:  # unknown encoding names, unencodable text
        raise WorkflowError("malformed XML", [f"cannot decode document: {exc}"]) from None


def _unsafe_reason(exc: DefusedXmlException) -> str:
    if isinstance(exc, DTDForbidden):
        return "a DOCTYPE declaration is not allowed (it enables entity expansion and XXE)"
    if isinstance(exc, EntitiesForbidden):
        return "entity declarations are not allowed"
    return "external references are not allowed"


def _build_graph(process: Element) -> FlowGraph:
    problems: list[str] = []
    nodes: dict[str, Node] = {}
    flows: list[Flow] = []
    seen: set[str] = set()
    refused: set[str] = set()
    for child in _elements(process):
        local = _local(child)
        el_id = child.get("id")
        if el_id is not None and el_id in seen:
            problems.append(f"duplicate id {el_id!r} ({local})")
            continue
        if el_id is not None:
            seen.add(el_id)
        if _in_bpmn(child) and local in _IGNORED_IN_PROCESS:
            continue
        if not _in_bpmn(child) or (local not in _NODE_KINDS and local != "sequenceFlow"):
            problems.append(f"unsupported element {_describe(child)}")
            refused.add(el_id or "")
        elif not el_id:
            problems.append(f"{local} without an id")
        elif local == "sequenceFlow":
            flow = _read_flow(child, el_id, problems)
            if flow is not None:
                flows.append(flow)
        else:
            nodes[el_id] = _read_node(child, el_id, _NODE_KINDS[local], problems)
    # incoming/outgoing child refs duplicate the sequenceFlows; the flows are authoritative.
    graph = FlowGraph(nodes=nodes, flows=tuple(flows), process_id=process.get("id"), program=WALKER)
    # Flows into a refused element would only repeat that problem.
    problems.extend(graph_problems(graph, known_elsewhere=refused))
    if problems:
        raise WorkflowError("invalid BPMN process", problems)
    return graph


def _read_node(el: Element, el_id: str, kind: NodeKind, problems: list[str]) -> Node:
    is_task = kind in (NodeKind.USER_TASK, NodeKind.SERVICE_TASK)
    _check_children(el, _ALLOWED_IN_TASK if is_task else _ALLOWED_IN_NODE, problems)
    settings = task_settings(el, el.find(f"{{{BPMN_NS}}}extensionElements"))
    return Node(
        id=el_id,
        kind=kind,
        name=el.get("name"),
        task_type=settings.task_type,
        extensions=settings.extensions,
        default_flow=el.get("default"),
        default_action=settings.default_action,
    )


def _read_flow(el: Element, el_id: str, problems: list[str]) -> Flow | None:
    _check_children(el, _ALLOWED_IN_FLOW, problems)
    source, target = el.get("sourceRef"), el.get("targetRef")
    for attr, value in (("sourceRef", source), ("targetRef", target)):
        if not value:
            problems.append(f"sequenceFlow {el_id} has no {attr}")
    if not source or not target:
        return None
    condition = el.find(f"{{{BPMN_NS}}}conditionExpression")
    text = (condition.text or "").strip() if condition is not None else ""
    return Flow(
        id=el_id,
        source=source,
        target=target,
        name=el.get("name"),
        condition=text or None,
        flow_type=flow_type(el),
    )


def _check_children(el: Element, allowed: frozenset[str], problems: list[str]) -> None:
    for sub in _elements(el):
        if not _in_bpmn(sub) or _local(sub) not in allowed:
            problems.append(f"unsupported element {_describe(sub)} in {_describe(el)}")


def _elements(el: Element) -> list[Element]:
    # Comments and processing instructions have non-str tags; they carry nothing.
    return [c for c in el if isinstance(c.tag, str)]


def _local(el: Element) -> str:
    return el.tag.rsplit("}", 1)[-1]


def _namespace(el: Element) -> str:
    return el.tag[1:].split("}", 1)[0] if el.tag.startswith("{") else ""


def _in_bpmn(el: Element) -> bool:
    return _namespace(el) == BPMN_NS


def _describe(el: Element) -> str:
    ns, el_id = _namespace(el), el.get("id")
    details = [f"id={el_id}"] if el_id else []
    if ns != BPMN_NS:
        details.append(f"namespace={ns or 'none'}")
    return f"{_local(el)} ({', '.join(details)})" if details else _local(el)
