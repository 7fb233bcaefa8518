"""A Hypothesis model test: random walks over generated fork/join graphs conserve tokens.

The graphs are well-structured (a block is a user task, two blocks in sequence, or two or three
blocks between a parallel or inclusive fork and its join; an inclusive fork's first branch has no
condition, the others a generated flag), so each runs to its end whatever order the tasks are
done in. Checked: every task on a branch taken is entered and ended once, every token made ends
(joined, forked on, or at an end event), each join fires at most once and only after every task
entered inside its block ended, the instance ends once with no token left, and replaying the
events gives the same state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count

from hypothesis import given, settings
from hypothesis import strategies as st

from events.flows.graph import Flow, FlowGraph, Node, NodeKind
from events.flows.walker import WALKER
from events.instance import ProcessInstance as I
from events.instance_state import InstanceStatus
from tests.factories import an_instance

blocks = st.recursive(
    st.just("task"),
    lambda inner: st.one_of(st.tuples(st.just("seq"), inner, inner),
                            st.tuples(st.sampled_from(["par", "inc"]), st.lists(inner, min_size=2, max_size=3))),
    max_leaves=8,
)


@dataclass
class Built:
    nodes: dict[str, Node] = field(default_factory=dict)
    flows: list[Flow] = field(default_factory=list)
    inside: dict[str, set[str]] = field(default_factory=dict)  # the tasks between each join's fork and it
    ids: count = field(default_factory=lambda: count(1))
    flags: list[str] = field(default_factory=list)  # the conditions of inclusive branches

    def node(self, prefix: str, kind: NodeKind) -> str:
        node_id = f"{prefix}{next(self.ids)}"
        self.nodes[node_id] = Node(node_id, kind)
        return node_id

    def flow(self, source: str, target: str) -> None:
        self.flows.append(Flow(f"f{next(self.ids)}", source, target))

    def block(self, shape, entry: str) -> tuple[str, set[str]]:
        """Lay out `shape` after `entry`; its exit node and the tasks in it."""
        if shape == "task":
            task = self.node("T", NodeKind.USER_TASK)
            self.flow(entry, task)
            return task, {task}
        if shape[0] == "seq":
            middle, first = self.block(shape[1], entry)
            end, second = self.block(shape[2], middle)
            return end, first | second
        kind = NodeKind.PARALLEL_GATEWAY if shape[0] == "par" else NodeKind.INCLUSIVE_GATEWAY
        fork = self.node("Fork", kind)
        self.flow(entry, fork)
        exits, tasks = [], set()
        for n, branch in enumerate(shape[1]):
            first_flow = len(self.flows)
            exit_node, branch_tasks = self.block(branch, fork)
            if kind is NodeKind.INCLUSIVE_GATEWAY and n:
                flag = f"c{len(self.flags)}"
                self.flags.append(flag)
                flow = self.flows[first_flow]
                self.flows[first_flow] = Flow(flow.id, flow.source, flow.target, condition=f"${{{flag}}}")
            exits.append(exit_node)
            tasks |= branch_tasks
        join = self.node("Join", kind)
        for exit_node in exits:
            self.flow(exit_node, join)
        self.inside[join] = tasks
        return join, tasks


def graph_of(shape) -> tuple[FlowGraph, Built]:
    built = Built()
    built.nodes["Start"] = Node("Start", NodeKind.START_EVENT)
    last, _ = built.block(shape, "Start")
    built.nodes["End"] = Node("End", NodeKind.END_EVENT)
    built.flow(last, "End")
    return FlowGraph(nodes=built.nodes, flows=tuple(built.flows), program=WALKER), built


@settings(max_examples=150, deadline=None)
@given(shape=blocks, data=st.data())
def test_random_walks_over_fork_join_graphs_conserve_tokens(shape, data) -> None:
    graph, built = graph_of(shape)
    instance = an_instance(form_data={flag: data.draw(st.booleans()) for flag in built.flags})
    instance.start(graph, None, "alice")
    while instance.active_tasks(graph):
        tasks = instance.active_tasks(graph)
        chosen = data.draw(st.sampled_from(tasks))
        instance.next(graph, chosen if len(tasks) > 1 else None, None, "alice")

    events = instance.collect_events()
    assert instance.status is InstanceStatus.COMPLETED and instance.tokens == {} and instance.joins == {}
    started = [e.element_id for e in events if isinstance(e, I.TaskStarted)]
    assert len(started) == len(set(started)) and set(started) <= {t.id for t in graph.tasks()}
    assert sorted(started) == sorted(e.element_id for e in events if isinstance(e, I.TaskEnded))
    if not built.flags or all(instance.form_data.values()):
        assert sorted(started) == sorted(t.id for t in graph.tasks())
    made = {"1"} | {c for e in events if isinstance(e, I.TokenForked) for c in e.children} | {
        e.token for e in events if isinstance(e, I.TokensJoined)}
    gone = {e.token for e in events if isinstance(e, (I.TokenForked, I.TokenEnded, I.Ended))} | {
        t for e in events if isinstance(e, I.TokensJoined) for t in e.joined}
    assert made == gone and sum(isinstance(e, I.Ended) for e in events) == 1
    ended: set[str] = set()
    for event in events:
        if isinstance(event, I.TaskEnded):
            ended.add(event.element_id)
        if isinstance(event, I.TokensJoined):
            assert built.inside[event.element_id] & set(started) <= ended, f"{event.element_id} fired early"
    joins = [e.element_id for e in events if isinstance(e, I.TokensJoined)]
    assert len(joins) == len(set(joins)) and set(joins) <= set(built.inside)
    if all(instance.form_data.values()):  # every branch taken: every join fires
        assert sorted(joins) == sorted(built.inside)
    replay = None
    for event in events:
        replay = event.mutate(replay)
    assert (replay.tokens, replay.joins, replay.status, replay.tokens_made) == (
        instance.tokens, instance.joins, instance.status, instance.tokens_made)
