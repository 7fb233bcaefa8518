"""The flow graph that BPMN models and JSON state machines both compile to.

Invariant: a graph is immutable once built; `graph_problems` says whether it is
walkable (start and end events exist, every flow joins two known nodes).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from events.flows.program import Program

__all__ = [
    "Flow",
    "FlowGraph",
    "FrozenMap",
    "Node",
    "NodeKind",
    "WorkflowError",
    "graph_problems",
]

K = TypeVar("K")
V = TypeVar("V")


class WorkflowError(ValueError):
    """A workflow definition that cannot be accepted.

    `problems` lists every defect found (each names the element at fault), so a
    caller can report them all at once instead of one per attempt.
    """

    def __init__(self, title: str, problems: Iterable[str] = ()) -> None:
        self.title = title
        self.problems = list(problems)
        detail = "; ".join(self.problems)
        super().__init__(f"{title}: {detail}" if detail else title)


class FrozenMap(Mapping[K, V]):
    """An immutable, hashable mapping that keeps insertion order.

    Frozen dataclasses holding a plain dict are neither immutable nor hashable;
    this keeps `Node` and `FlowGraph` honest value objects.
    """

    __slots__ = ("_data",)

    def __init__(self, items: Mapping[K, V] | Iterable[tuple[K, V]] = ()) -> None:
        self._data: dict[K, V] = dict(items)

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


class NodeKind(StrEnum):
    """What a node does when the engine reaches it."""

    START_EVENT = "start_event"
    END_EVENT = "end_event"
    USER_TASK = "user_task"  # waits for a caller
    SERVICE_TASK = "service_task"  # a worker runs it, then the flow moves on
    EXCLUSIVE_GATEWAY = "exclusive_gateway"
    PARALLEL_GATEWAY = "parallel_gateway"  # forks a token per outgoing flow; joins one token per incoming flow
    INCLUSIVE_GATEWAY = "inclusive_gateway"  # forks a token per flow whose condition holds; joins the branches taken


TASK_KINDS = frozenset({NodeKind.USER_TASK, NodeKind.SERVICE_TASK})
# Gateways where the walker's tokens wait and fork (events/flows/walker.py).
TOKEN_GATEWAYS = frozenset({NodeKind.PARALLEL_GATEWAY, NodeKind.INCLUSIVE_GATEWAY})


@dataclass(frozen=True)
class Node:
    """One element of the graph: an event, a task or a gateway."""

    id: str
    kind: NodeKind
    name: str | None = None
    task_type: str | None = None
    extensions: Mapping[str, str] = field(default_factory=FrozenMap)
    default_flow: str | None = None
    default_action: str | None = None  # what leaving the task means when the caller names no action

    def __post_init__(self) -> None:
        # Accept plain strings and mappings from callers but store the strict forms.
        object.__setattr__(self, "kind", NodeKind(self.kind))
        if not isinstance(self.extensions, FrozenMap):
            object.__setattr__(self, "extensions", FrozenMap(self.extensions))


@dataclass(frozen=True)
class Flow:
    """A directed edge; `condition` is kept as source text, never evaluated here."""

    id: str
    source: str
    target: str
    name: str | None = None
    condition: str | None = None
    flow_type: str | None = None


@dataclass(frozen=True)
class FlowGraph:
    """Nodes by id (in document order) and the flows between them."""

    nodes: Mapping[str, Node]
    flows: tuple[Flow, ...]
    process_id: str | None = None
    # The engine instances of this graph run on (events/flows/program.py); set by every compiler.
    program: Program | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.nodes, FrozenMap):
            object.__setattr__(self, "nodes", FrozenMap(self.nodes))
        object.__setattr__(self, "flows", tuple(self.flows))

    def node(self, node_id: str) -> Node:
        """Return the node with this id; raise KeyError if there is none."""
        try:
            return self.nodes[node_id]
        except KeyError:
            raise KeyError(f"unknown node {node_id!r}") from None

    def start_events(self) -> list[Node]:
        """Start events, in document order."""
        return self._of_kind({NodeKind.START_EVENT})

    def end_events(self) -> list[Node]:
        """End events, in document order."""
        return self._of_kind({NodeKind.END_EVENT})

    def tasks(self) -> list[Node]:
        """User and service tasks, in document order."""
        return self._of_kind(TASK_KINDS)

    def outgoing(self, node_id: str) -> list[Flow]:
        """Flows leaving `node_id`, in document order."""
        return [f for f in self.flows if f.source == node_id]

    def incoming(self, node_id: str) -> list[Flow]:
        """Flows entering `node_id`, in document order."""
        return [f for f in self.flows if f.target == node_id]

    def reaches(self, source: str, target: str) -> bool:
        """Whether some path of flows leads from `source` to `target` (an inclusive join's question)."""
        seen, todo = {source}, [source]
        while todo:
            for f in self.outgoing(todo.pop()):
                if f.target == target:
                    return True
                if f.target not in seen:
                    seen.add(f.target)
                    todo.append(f.target)
        return False

    def flow(self, flow_id: str) -> Flow:
        """Return the flow with this id; raise KeyError if there is none."""
        for f in self.flows:
            if f.id == flow_id:
                return f
        raise KeyError(f"unknown flow {flow_id!r}")

    def _of_kind(self, kinds: set[NodeKind] | frozenset[NodeKind]) -> list[Node]:
        return [n for n in self.nodes.values() if n.kind in kinds]


def graph_problems(graph: FlowGraph, *, known_elsewhere: Collection[str] = ()) -> list[str]:
    """Every structural defect that would stop an engine walking `graph`.

    Shared by every source format so a BPMN model and a state machine are held
    to the same rules. An empty list means the graph is usable. Flows may point
    at ids in `known_elsewhere` (elements a compiler already refused) without
    being reported again.
    """
    problems: list[str] = []
    if not graph.start_events():
        problems.append("no start event")
    if not graph.end_events():
        problems.append("no end event")
    flow_ids: set[str] = set()
    for f in graph.flows:
        if f.id in flow_ids or f.id in graph.nodes:
            problems.append(f"duplicate id {f.id!r}")
        flow_ids.add(f.id)
        for end, ref in (("source", f.source), ("target", f.target)):
            if ref not in graph.nodes and ref not in known_elsewhere:
                problems.append(f"flow {f.id}: {end} {ref!r} is not an element of the process")
    for n in graph.nodes.values():
        outgoing = graph.outgoing(n.id)
        if n.kind is NodeKind.START_EVENT:
            if graph.incoming(n.id):
                problems.append(f"start event {n.id} has incoming flows")
            if not outgoing:
                problems.append(f"start event {n.id} has no outgoing flow")
        if n.kind is NodeKind.END_EVENT and outgoing:
            problems.append(f"end event {n.id} has outgoing flows")
        if n.default_flow is not None and n.default_flow not in {f.id for f in outgoing}:
            problems.append(
                f"default flow {n.default_flow!r} of {n.id} is not one of its outgoing flows"
            )
    return problems
