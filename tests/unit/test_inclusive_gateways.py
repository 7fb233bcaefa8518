"""Inclusive gateways: a fork along every flow whose condition holds (else the default), a join on the branches taken.

Driven through `inclusive-fork-join.bpmn` (it names the Camunda/Zeebe behaviour), in the pure
domain; replaying the events rebuilds the same tokens and joins.
"""

from __future__ import annotations

import pytest

from events.flows.bpmn import parse_bpmn
from events.flows.engine import FlowConflict
from events.instance import ProcessInstance as I
from events.instance_state import InstanceStatus
from tests.factories import an_instance
from tests.fixtures import bpmn_bytes

GRAPH = parse_bpmn(bpmn_bytes("inclusive-fork-join.bpmn"))


def replayed(events: list) -> I:
    aggregate = None
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


def entered(data: dict) -> I:
    instance = an_instance(form_data=data)
    instance.start(GRAPH, None, "alice")
    instance.next(GRAPH, None, None, "alice")  # Enter -> the inclusive fork
    return instance


@pytest.mark.parametrize(("data", "branches"), [
    ({"amount": 500, "express": True}, ["Approve", "Express"]),
    ({"amount": 500, "express": False}, ["Approve"]),
    ({"amount": 5, "express": True}, ["Express"]),
    ({"amount": 5, "express": False}, ["Standard"]),
], ids=["both", "only-large", "only-express", "default"])
def test_the_fork_takes_every_flow_whose_condition_holds_else_the_default(data: dict, branches: list[str]) -> None:
    instance = entered(data)

    assert instance.active_tasks(GRAPH) == branches


def test_the_join_waits_for_the_branches_taken_only() -> None:
    instance = entered({"amount": 500, "express": True})

    instance.next(GRAPH, "Express", None, "alice")
    assert instance.active_tasks(GRAPH) == ["Approve"] and list(instance.joins) == ["Merge"]
    instance.next(GRAPH, None, None, "alice")

    events = instance.collect_events()
    assert instance.status is InstanceStatus.COMPLETED and instance.end_event == "Booked"
    assert [sorted(e.joined) for e in events if isinstance(e, I.TokensJoined)] == [["2", "3"]]
    assert sum(isinstance(e, I.Ended) for e in events) == 1
    replay = replayed(events)
    assert (replay.tokens, replay.joins, replay.status) == (instance.tokens, instance.joins, instance.status)


def test_one_branch_taken_passes_the_join_at_once() -> None:
    instance = entered({"amount": 500, "express": False})

    instance.next(GRAPH, None, None, "alice")

    assert instance.status is InstanceStatus.COMPLETED
    assert [e.element_id for e in instance.collect_events() if isinstance(e, I.TokensJoined)] == ["Merge"]


def test_a_join_fires_once_the_other_branch_leaves_for_elsewhere() -> None:
    xml = bpmn_bytes("inclusive-fork-join.bpmn").replace(
        b'sourceRef="Approve" targetRef="Merge"', b'sourceRef="Approve" targetRef="Refused"').replace(
        b"</bpmn:process>", b'<bpmn:userTask id="Refused"/><bpmn:endEvent id="Declined"/>'
                            b'<bpmn:sequenceFlow id="refused_end" sourceRef="Refused" targetRef="Declined"/>'
                            b'<bpmn:sequenceFlow id="refused_merge" sourceRef="Refused" targetRef="Merge"/></bpmn:process>')
    graph = parse_bpmn(xml)
    instance = an_instance(form_data={"amount": 500, "express": True})
    instance.start(graph, None, "alice")
    instance.next(graph, None, None, "alice")
    instance.next(graph, "Express", None, "alice")  # waits at Merge: Approve's token can still reach it
    assert list(instance.joins) == ["Merge"]

    instance.next(graph, "Refused", None, "alice")  # Approve -> Refused, which can still reach Merge
    assert list(instance.joins) == ["Merge"]
    instance.next(graph, "Declined", None, "alice")  # the other token ends elsewhere: the join fires

    assert instance.status is InstanceStatus.COMPLETED and instance.end_event == "Booked"


def test_a_fork_with_no_condition_holding_and_no_default_is_a_conflict() -> None:
    graph = parse_bpmn(bpmn_bytes("inclusive-fork-join.bpmn").replace(b' default="to_standard"', b"").replace(
        b'<bpmn:sequenceFlow id="to_standard" sourceRef="Which" targetRef="Standard"/>',
        b'<bpmn:sequenceFlow id="to_standard" sourceRef="Which" targetRef="Standard">'
        b"<bpmn:conditionExpression>${amount &lt; 0}</bpmn:conditionExpression></bpmn:sequenceFlow>"))
    instance = an_instance(form_data={"amount": 5, "express": False})
    instance.start(graph, None, "alice")

    with pytest.raises(FlowConflict, match="inclusive gateway Which"):
        instance.next(graph, None, None, "alice")
