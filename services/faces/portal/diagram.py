"""Diagrams as data for an inline SVG: BPMN from the document's own BPMNDI, other flows laid out in layers.

The template draws what this module measures (no script, no inline style: the CSP forbids
both); every name reaches the page through Jinja's escaping. Parsing is CPU work, so callers
run `diagram` in an executor; a document's geometry is cached.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from defusedxml import ElementTree

from events.flows.graph import TASK_KINDS, FlowGraph, NodeKind
from events.workflow import is_xml

_DI = "{http://www.omg.org/spec/BPMN/20100524/DI}"
_DC = "{http://www.omg.org/spec/DD/20100524/DC}"
_DD = "{http://www.omg.org/spec/DD/20100524/DI}"
_BOX_W, _BOX_H, _GAP_X, _GAP_Y, _MARGIN = 140, 56, 60, 28, 16
_MAX_ELEMENTS = 500


@dataclass(frozen=True)
class Shape:
    """One element's box (or circle, for events; diamond, for gateways)."""

    id: str
    label: str
    kind: str  # event, task, gateway
    x: float
    y: float
    w: float
    h: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    @property
    def diamond(self) -> str:
        return f"{self.cx},{self.y} {self.x + self.w},{self.cy} {self.cx},{self.y + self.h} {self.x},{self.cy}"


@dataclass(frozen=True)
class Edge:
    """One flow as a polyline from its source to its target."""

    id: str
    source: str
    target: str
    points: str
    label: str


@dataclass(frozen=True)
class Diagram:
    """Shapes and edges, and the view box that holds them."""

    shapes: tuple[Shape, ...]
    edges: tuple[Edge, ...]
    x: float
    y: float
    width: float
    height: float
    source: str  # "bpmndi" or "layout"

    @property
    def view_box(self) -> str:
        return f"{self.x:g} {self.y:g} {self.width:g} {self.height:g}"


def _kind(graph: FlowGraph, node_id: str) -> str:
    node = graph.nodes.get(node_id)
    if node is None:
        return "task"
    if node.kind in (NodeKind.START_EVENT, NodeKind.END_EVENT):
        return "event"
    return "task" if node.kind in TASK_KINDS else "gateway"


def _label(graph: FlowGraph, node_id: str) -> str:
    node = graph.nodes.get(node_id)
    if node is not None and not node.name and node.kind in (NodeKind.START_EVENT, NodeKind.END_EVENT):
        return ""  # an unnamed event is a circle; its id (often generated) says nothing
    return (node.name if node and node.name else node_id)[:60]


def _bounded(shapes: list[Shape], edges: list[Edge], source: str) -> Diagram:
    xs = [s.x for s in shapes] + [float(p.split(",")[0]) for e in edges for p in e.points.split()]
    ys = [s.y for s in shapes] + [float(p.split(",")[1]) for e in edges for p in e.points.split()]
    right = [s.x + s.w for s in shapes] + xs
    bottom = [s.y + s.h for s in shapes] + ys
    x, y = min(xs) - _MARGIN, min(ys) - _MARGIN
    return Diagram(tuple(shapes), tuple(edges), x, y, max(right) + _MARGIN - x, max(bottom) + _MARGIN - y, source)


@lru_cache(maxsize=64)
def _geometry(document: str) -> tuple[tuple[tuple[str, float, float, float, float], ...], tuple[tuple[str, tuple[str, ...]], ...]]:
    """The BPMNDI of a document: (element, x, y, w, h) per shape and (flow, points) per edge."""
    root = ElementTree.fromstring(document.lstrip("\ufeff \t\r\n").encode())
    boxes = []
    for element in root.iter(_DI + "BPMNShape"):
        bounds = element.find(_DC + "Bounds")
        if bounds is not None:
            boxes.append((element.get("bpmnElement", ""), *(float(bounds.get(a, "0")) for a in ("x", "y", "width", "height"))))
    lines = []
    for element in root.iter(_DI + "BPMNEdge"):
        points = tuple(f"{float(p.get('x', '0')):g},{float(p.get('y', '0')):g}" for p in element.iter(_DD + "waypoint"))
        lines.append((element.get("bpmnElement", ""), points))
    return tuple(boxes[:_MAX_ELEMENTS]), tuple(lines[:_MAX_ELEMENTS])


def from_bpmndi(document: str, graph: FlowGraph) -> Diagram | None:
    """The diagram the document draws for itself (None when it has no BPMNDI shapes)."""
    boxes, lines = _geometry(document)
    flows = {f.id: f for f in graph.flows}
    shapes = [Shape(ref, _label(graph, ref), _kind(graph, ref), x, y, w, h)
              for ref, x, y, w, h in boxes if ref in graph.nodes]
    edges = [Edge(f.id, f.source, f.target, " ".join(points), (f.name or "")[:40])
             for ref, points in lines if (f := flows.get(ref)) is not None and len(points) >= 2]
    return _bounded(shapes, edges, "bpmndi") if shapes else None


def layered(graph: FlowGraph) -> Diagram:
    """A left-to-right layout: each element in the column of its shortest distance from a start."""
    starts = [n.id for n in graph.start_events()] or list(graph.nodes)[:1]
    outgoing: dict[str, list[str]] = {}
    for f in graph.flows:
        outgoing.setdefault(f.source, []).append(f.target)
    depth = {s: 0 for s in starts}
    queue = deque(starts)
    while queue:
        current = queue.popleft()
        for target in outgoing.get(current, []):
            if target not in depth:
                depth[target] = depth[current] + 1
                queue.append(target)
    deepest = max(depth.values(), default=0)
    for node_id in graph.nodes:  # unreachable elements go in a column of their own
        depth.setdefault(node_id, deepest + 1)
    rows: dict[int, int] = {}
    shapes: dict[str, Shape] = {}
    for node_id in list(graph.nodes)[:_MAX_ELEMENTS]:
        column = depth[node_id]
        row = rows.get(column, 0)
        rows[column] = row + 1
        kind = _kind(graph, node_id)
        w, h = (36, 36) if kind == "event" else (50, 50) if kind == "gateway" else (_BOX_W, _BOX_H)
        x = column * (_BOX_W + _GAP_X) + (_BOX_W - w) / 2
        y = row * (_BOX_H + _GAP_Y) + (_BOX_H - h) / 2
        shapes[node_id] = Shape(node_id, _label(graph, node_id), kind, x, y, w, h)
    edges = []
    for f in graph.flows:
        a, b = shapes.get(f.source), shapes.get(f.target)
        if a is None or b is None:
            continue
        if b.x >= a.x + a.w:
            points = f"{a.x + a.w:g},{a.cy:g} {b.x:g},{b.cy:g}"
        else:  # backwards or in the same column: leave from the bottom, enter from the bottom
            low = max(a.y + a.h, b.y + b.h) + _GAP_Y / 2
            points = f"{a.cx:g},{a.y + a.h:g} {a.cx:g},{low:g} {b.cx:g},{low:g} {b.cx:g},{b.y + b.h:g}"
        edges.append(Edge(f.id, f.source, f.target, points, (f.name or "")[:40]))
    return _bounded(list(shapes.values()), edges, "layout")


def diagram(configuration: dict[str, Any], graph: FlowGraph) -> Diagram | None:
    """The drawing of a definition's flow: its own BPMNDI when it has one, else a layered layout."""
    if not graph.nodes:
        return None
    workflow = configuration.get("workflow")
    drawn = None
    if isinstance(workflow, str):
        try:
            drawn = from_bpmndi(workflow, graph) if is_xml(workflow) else None
        except (ElementTree.ParseError, ValueError, TypeError):
            drawn = None  # the flow compiled, so draw its layout instead
    return drawn or layered(graph)


def marks(instance: Any, via: set[str]) -> dict[str, str]:
    """CSS classes by element: `passed`, the `current` one, a `failed` one."""
    classes = {v.element_id: "passed" for v in instance.visits}
    classes.update({element: "passed" for element in via})
    status = getattr(instance.status, "value", str(instance.status))
    if instance.element and status in ("running", "waiting"):
        # Every active token's element at once (a parallel fork has several).
        for element in [instance.element, *(t.element_id for t in getattr(instance, "tokens", {}).values())]:
            classes[element] = "current"
    elif instance.element and status == "failed":
        classes[instance.element] = "failed"
    return classes
