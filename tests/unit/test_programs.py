"""The one engine interface: every engine takes every decision of `Program`, or refuses it by name."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime

import pytest

from events.concord.program import ConcordProgram
from events.errors import Conflict, InvalidInput
from events.flows.engine import FlowConflict
from events.flows.program import Program
from events.flows.walker import WALKER
from events.instance_state import InstanceStatus
from events.workflow import compile_workflow
from tests.factories import an_instance

CONCORD = {"flows": {"default": [{"form": "f"}], "other": [{"log": "x"}]}, "forms": {"f": [{"x": {"type": "string"}}]}}
DECISIONS = [name for name, _ in inspect.getmembers(Program, inspect.isfunction) if not name.startswith("_")]


def concord_graph():
    return compile_workflow({"workflow": CONCORD})


@pytest.mark.parametrize("name", DECISIONS)
def test_every_engine_takes_each_decision_of_the_protocol_with_its_signature(name: str) -> None:
    wanted = inspect.signature(getattr(Program, name))
    for engine in (WALKER, concord_graph().program):
        assert inspect.signature(getattr(type(engine), name)) == wanted, f"{type(engine).__name__}.{name}"


def test_every_compiled_graph_carries_its_engine() -> None:
    assert compile_workflow({"script": "echo"}).program is WALKER
    assert compile_workflow({"workflow": {"states": {"a": {"triggers": {"t": "b"}}, "b": {"final": True}}}}).program is WALKER
    assert isinstance(concord_graph().program, ConcordProgram)


def test_a_graph_refuses_concord_forms_and_events_naming_why() -> None:
    graph = compile_workflow({"workflow": {"states": {"a": {"triggers": {"t": "b"}}, "b": {"final": True}}}})
    instance = an_instance()
    instance.start(graph, None, "alice")

    with pytest.raises(Conflict, match="does not run a Concord project"):
        instance.form_errors(graph, "f", {})
    with pytest.raises(Conflict, match="does not run a Concord project"):
        instance.resume_event(graph, "go", "alice", datetime.now(UTC))
    assert instance.time_out(graph, datetime.now(UTC), "system") is False


def test_a_concord_flow_refuses_next_triggers_and_complete_process_naming_its_api() -> None:
    graph = concord_graph()
    instance = an_instance()
    instance.start(graph, None, "alice")
    assert instance.status is InstanceStatus.WAITING and instance.element == "f"

    for move in (lambda: instance.next(graph, None, None, "alice"), lambda: instance.fire(graph, "t", "alice"),
                 lambda: instance.complete_process(graph, "alice")):
        with pytest.raises(FlowConflict, match="through the Concord API"):
            move()


def test_a_concord_start_is_checked_against_the_projects_flows_before_it_is_scheduled() -> None:
    graph = concord_graph()
    instance = an_instance()

    instance.check_start(graph, "other")
    with pytest.raises(InvalidInput, match="no flow 'nope'"):
        instance.check_start(graph, "nope")
    assert instance.status is InstanceStatus.CREATED and not instance.collect_events()[1:]
