"""Parallel gateways: a fork makes one token per outgoing flow, a join waits for one on every incoming flow.

Each test drives the pure domain (no database) through the BPMN fixtures written for it, which
name the Camunda/Zeebe behaviour they reproduce, and checks that replaying the recorded events
rebuilds the same tokens, joins and status.
"""

from __future__ import annotations

import pytest

from events.flows.bpmn import parse_bpmn
from events.flows.engine import FlowConflict
from events.instance import ProcessInstance as I
from events.instance_state import InstanceStatus
from tests.factories import an_instance
from tests.fixtures import bpmn_bytes


def replayed(events: list) -> I:
    aggregate = None
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


def at(instance: I) -> dict[str, str]:
    """Each active token's element, by token id."""
    return {t.id: t.element_id for t in instance.tokens.values()}


def same_state(a: I, b: I) -> None:
    assert (a.tokens, a.joins, a.status, a.element, a.tokens_made) == (b.tokens, b.joins, b.status, b.element, b.tokens_made)


def test_a_fork_makes_one_token_per_outgoing_flow() -> None:
    graph = parse_bpmn(bpmn_bytes("parallel-fork-join.bpmn"))
    instance = an_instance()

    instance.start(graph, None, "alice")

    assert at(instance) == {"2": "ChargeCard", "3": "ReserveStock"}
    assert instance.active_tasks(graph) == ["ChargeCard", "ReserveStock"]
    assert instance.status is InstanceStatus.WAITING and instance.current_task == "ChargeCard"
    forked = [e for e in instance.collect_events() if isinstance(e, I.TokenForked)]
    assert [(e.element_id, e.token, e.children, e.flows) for e in forked] == [
        ("Fork", "1", ["2", "3"], ["fork_charge", "fork_reserve"])]


@pytest.mark.parametrize("order", [("ChargeCard", "ReserveStock"), ("ReserveStock", "ChargeCard")])
def test_the_join_waits_for_every_branch_then_fires_once(order: tuple[str, str]) -> None:
    graph = parse_bpmn(bpmn_bytes("parallel-fork-join.bpmn"))
    instance = an_instance()
    instance.start(graph, None, "alice")

    instance.next(graph, order[0], None, "alice")  # names the active task to leave
    assert instance.active_tasks(graph) == [order[1]]
    assert list(instance.joins["Join"]) == [{"ChargeCard": "charge_join", "ReserveStock": "reserve_join"}[order[0]]]

    instance.next(graph, None, None, "alice")
    assert at(instance) == {"4": "Ship"} and instance.joins == {}
    instance.next(graph, None, None, "alice")

    events = instance.collect_events()
    assert instance.status is InstanceStatus.COMPLETED and instance.tokens == {}
    assert [e.token for e in events if isinstance(e, I.TokensJoined)] == ["4"]
    assert sum(isinstance(e, I.Ended) for e in events) == 1
    same_state(replayed(events), instance)


def test_nested_forks_join_inside_out() -> None:
    graph = parse_bpmn(bpmn_bytes("parallel-nested.bpmn"))
    instance = an_instance()
    instance.start(graph, None, "alice")
    assert instance.active_tasks(graph) == ["Review", "Legal", "Finance"]

    instance.next(graph, "Legal", None, "alice")
    instance.next(graph, "Review", None, "alice")
    assert instance.active_tasks(graph) == ["Finance"] and instance.status is InstanceStatus.WAITING
    assert {g: sorted(flows) for g, flows in instance.joins.items()} == {"InnerJoin": ["f6"], "OuterJoin": ["f9"]}
    instance.next(graph, None, None, "alice")

    events = instance.collect_events()
    assert instance.status is InstanceStatus.COMPLETED and instance.end_event == "Done"
    assert [e.element_id for e in events if isinstance(e, I.TokensJoined)] == ["InnerJoin", "OuterJoin"]
    same_state(replayed(events), instance)


def test_a_target_reachable_from_one_branch_moves_that_branch() -> None:
    graph = parse_bpmn(bpmn_bytes("parallel-fork-join.bpmn"))
    instance = an_instance()
    instance.start(graph, None, "alice")

    assert instance.next(graph, "Join", None, "alice") == "Join"  # reachable from both: the first task moves

    assert instance.active_tasks(graph) == ["ReserveStock"]


def test_a_token_ending_beside_others_does_not_end_the_instance() -> None:
    graph = parse_bpmn(bpmn_bytes("parallel-fork-join.bpmn").replace(
        b'targetRef="Join"/>\n    <bpmn:sequenceFlow id="join_ship"', b'targetRef="Shipped"/>\n    <bpmn:sequenceFlow id="join_ship"'))
    instance = an_instance()
    instance.start(graph, None, "alice")

    instance.next(graph, "ReserveStock", None, "alice")  # its branch now ends at Shipped, the join waits for nothing
    ended = [e for e in instance.collect_events() if isinstance(e, I.TokenEnded)]

    assert [(e.end_event, e.token) for e in ended] == [("Shipped", "3")]
    assert instance.status is InstanceStatus.WAITING and instance.active_tasks(graph) == ["ChargeCard"]


def test_a_join_no_token_can_reach_fails_the_instance() -> None:
    graph = parse_bpmn(bpmn_bytes("parallel-fork-join.bpmn").replace(
        b"</bpmn:process>", b'<bpmn:userTask id="Never"/><bpmn:sequenceFlow id="never_join" sourceRef="Never" targetRef="Join"/>'
                            b"</bpmn:process>"))
    instance = an_instance()
    instance.start(graph, None, "alice")

    instance.next(graph, "ReserveStock", None, "alice")
    instance.next(graph, None, None, "alice")  # the last token waits at the join for a flow no token can take

    assert instance.status is InstanceStatus.FAILED and "Join" in (instance.failure or "")


def test_a_fork_branch_that_cannot_choose_is_a_conflict() -> None:
    xml = bpmn_bytes("parallel-fork-join.bpmn").replace(
        b'<bpmn:sequenceFlow id="fork_reserve" sourceRef="Fork" targetRef="ReserveStock"/>',
        b'<bpmn:sequenceFlow id="fork_reserve" sourceRef="Fork" targetRef="X"/><bpmn:exclusiveGateway id="X"/>'
        b'<bpmn:sequenceFlow id="x1" sourceRef="X" targetRef="ReserveStock"/>'
        b'<bpmn:sequenceFlow id="x2" sourceRef="X" targetRef="Ship"/>')
    graph = parse_bpmn(xml)

    with pytest.raises(FlowConflict, match="fork_reserve"):
        an_instance().start(graph, None, "alice")
