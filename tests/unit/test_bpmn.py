"""The BPMN reader: models of Altinn's shapes, hostile XML, unsupported and broken processes."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.flows.bpmn import DocumentTooLargeError, WorkflowError, parse_bpmn
from events.flows.graph import Flow, FlowGraph, Node, NodeKind, graph_problems
from tests.fixtures import REFUSED, bpmn_bytes, bpmn_corpus

ALL_FIXTURES = bpmn_corpus()


def fixture(name: str) -> bytes:
    return bpmn_bytes(name)


def bpmn(process_body: str, *, process_attrs: str = 'id="P1"', outside: str = "") -> str:
    """A minimal BPMN document around `process_body`."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
    xmlns:altinn="http://altinn.no/process" id="Defs">
  <bpmn:process {process_attrs}>{process_body}</bpmn:process>{outside}
</bpmn:definitions>"""


LINEAR = """
    <bpmn:startEvent id="Start"/>
    <bpmn:task id="T1"/>
    <bpmn:endEvent id="End"/>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="T1"/>
    <bpmn:sequenceFlow id="F2" sourceRef="T1" targetRef="End"/>"""


def refusal(document: bytes | str, **kwargs: int) -> WorkflowError:
    with pytest.raises(WorkflowError) as info:
        parse_bpmn(document, **kwargs)
    assert info.value.problems, "a refusal must list its problems"
    return info.value


# --- the fixture corpus ------------------------------------------------------------------


def test_fixture_directory_is_present() -> None:
    assert len(ALL_FIXTURES) >= 20


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: p.name)
def test_every_fixture_names_the_engine_behaviour_it_reproduces(path: Path) -> None:
    comment = re.search(r"<!--(.*?)-->", path.read_text(encoding="utf-8-sig"), re.DOTALL)

    assert comment and comment.group(1).strip().startswith(("Altinn behaviour", "Camunda/Zeebe behaviour"))


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: p.name)
def test_every_fixture_parses_to_a_walkable_graph_or_is_refused_with_problems(path: Path) -> None:
    try:
        graph = parse_bpmn(path.read_bytes())
    except WorkflowError as error:
        assert error.problems
        assert REFUSED.get(path.name) == error.title
    else:
        assert path.name not in REFUSED
        assert graph.start_events() and graph.end_events()
        assert graph_problems(graph) == []


def test_simple_linear_reads_tasks_types_and_flows_in_order() -> None:
    graph = parse_bpmn(fixture("linear-data-then-confirmation.bpmn"))

    assert graph.process_id == "Linear_Process"
    assert [(n.id, n.kind) for n in graph.nodes.values()] == [
        ("Begin", NodeKind.START_EVENT),
        ("FillIn", NodeKind.USER_TASK),
        ("Confirm", NodeKind.USER_TASK),
        ("Finish", NodeKind.END_EVENT),
    ]
    assert [(t.id, t.name, t.task_type) for t in graph.tasks()] == [
        ("FillIn", "Fill in the form", "data"),
        ("Confirm", "Confirm what was entered", "confirmation"),
    ]
    assert [(f.id, f.source, f.target) for f in graph.flows] == [
        ("f_begin_fill", "Begin", "FillIn"),
        ("f_fill_confirm", "FillIn", "Confirm"),
        ("f_confirm_finish", "Confirm", "Finish"),
    ]
    assert graph.outgoing("FillIn") == [graph.flow("f_fill_confirm")]
    assert graph.incoming("FillIn") == [graph.flow("f_begin_fill")]
    assert graph.outgoing("Finish") == []


def test_simple_gateway_flows_have_no_conditions_and_no_default() -> None:
    graph = parse_bpmn(fixture("gateway-caller-chooses.bpmn"))

    gateway = graph.node("Choice")
    assert gateway.kind is NodeKind.EXCLUSIVE_GATEWAY
    assert gateway.default_flow is None
    assert [(f.id, f.target, f.condition) for f in graph.outgoing("Choice")] == [
        ("choice_review", "Review", None),
        ("choice_skip", "Finish", None),
    ]
    assert graph.node("Review").extensions == {"actions": "confirm,reject"}


def test_gateway_default_flow_is_read() -> None:
    graph = parse_bpmn(fixture("gateway-default-flow.bpmn"))

    assert graph.node("Route").default_flow == "route_to_assess"
    assert graph.flow("route_to_assess").target == "Assess"


def test_gateway_conditions_are_kept_as_text() -> None:
    graph = parse_bpmn(fixture("double-signing.bpmn"))

    assert graph.flow("to_second").condition == (
        '["equals", ["dataModel", "declaration.secondSignerRequired"], true]'
    )
    assert graph.flow("back_from_first").condition == '["equals", ["gatewayAction"], "reject"]'
    assert graph.flow("opened_to_form").condition is None
    assert graph.node("AfterFirstSignature").extensions == {"connectedDataTypeId": "declaration"}


def test_service_tasks_are_service_tasks_with_their_altinn_type() -> None:
    graph = parse_bpmn(fixture("service-tasks.bpmn"))

    assert [(t.id, t.kind, t.task_type) for t in graph.tasks()] == [
        ("Register", NodeKind.USER_TASK, "data"),
        ("MakePdf", NodeKind.SERVICE_TASK, "pdf"),
        ("Ship", NodeKind.SERVICE_TASK, "eFormidling"),
    ]


def test_legacy_tasktype_attribute_is_read() -> None:
    graph = parse_bpmn(fixture("legacy-tasktype-attribute.bpmn"))

    assert [t.task_type for t in graph.tasks()] == ["data", "confirmation"]


def test_task_extension_wins_over_the_legacy_attribute() -> None:
    graph = parse_bpmn(fixture("extension-wins-over-attribute.bpmn"))

    assert [t.task_type for t in graph.tasks()] == ["data-element", "confirmation-element"]


def test_oldest_tasktype_element_with_id_attribute_is_read() -> None:
    graph = parse_bpmn(fixture("oldest-tasktype-element.bpmn"))

    assert graph.node("Report").task_type == "data"
    assert graph.node("Report").extensions == {"actions": "submit"}


def test_unknown_task_types_are_kept_as_given() -> None:
    graph = parse_bpmn(fixture("payment-task.bpmn"))

    assert graph.node("Pay").task_type == "payment"
    assert graph.node("Pay").extensions == {"actions": "pay,confirm,reject"}


def test_not_bpmn_fixture_is_refused_as_not_bpmn() -> None:
    error = refusal(fixture("root-is-not-definitions.bpmn"))

    assert error.title == "not a BPMN 2.0 document"
    assert "root element is definition" in error.problems[0]


def test_a_process_without_end_event_is_refused() -> None:
    error = refusal(fixture("no-end-event.bpmn"))

    assert error.problems == ["no end event"]


def test_the_seed_document_dangling_target_is_refused_naming_flow_and_ref() -> None:
    seed = """
    <bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:task id="Task_1" name="Fill in">
        <bpmn:incoming>Flow_1</bpmn:incoming><bpmn:outgoing>Flow_2</bpmn:outgoing>
        <bpmn:extensionElements>
            <altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension>
        </bpmn:extensionElements>
    </bpmn:task>
    <bpmn:endEvent id="EndEvent_1"><bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="data_1" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_1" targetRef="EndEvent_1" />"""

    error = refusal(bpmn(seed))

    assert error.title == "invalid BPMN process"
    assert error.problems == ["flow Flow_1: target 'data_1' is not an element of the process"]


# --- hostile and malformed XML -------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">
  &lol4;
</bpmn:definitions>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE definitions [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">
  <bpmn:process id="P"><bpmn:documentation>&xxe;</bpmn:documentation></bpmn:process>
</bpmn:definitions>"""


def test_billion_laughs_is_refused_as_unsafe() -> None:
    error = refusal(BILLION_LAUGHS)

    assert error.title == "unsafe XML"
    assert "DOCTYPE" in error.problems[0]


def test_external_entity_is_refused_as_unsafe() -> None:
    error = refusal(XXE)

    assert error.title == "unsafe XML"
    assert "root:" not in str(error)  # nothing of /etc/passwd leaks into the message


def test_any_doctype_is_refused_even_without_entities() -> None:
    document = bpmn(LINEAR).replace("<bpmn:definitions", "<!DOCTYPE definitions><bpmn:definitions", 1)

    assert refusal(document).title == "unsafe XML"


def test_oversized_document_is_refused_before_parsing() -> None:
    document = bpmn(LINEAR)
    with pytest.raises(DocumentTooLargeError) as info:
        parse_bpmn(document + " " * 100, max_bytes=len(document))

    assert (info.value.size, info.value.limit) == (len(document) + 100, len(document))
    assert info.value.title == "document too large"
    assert isinstance(info.value, WorkflowError)


def test_oversized_check_counts_bytes_not_characters() -> None:
    document = bpmn(LINEAR.replace('id="T1"', 'id="T1" name="æøå"'))

    assert refusal(document, max_bytes=len(document)).title == "document too large"
    assert parse_bpmn(document, max_bytes=len(document.encode())).node("T1").name == "æøå"


@pytest.mark.parametrize(
    "document",
    [
        b"",
        b"<a><b></a>",
        b"not xml at all",
        b"<?xml version='1.0' encoding='nonsense'?><a/>",
        "<a>\ud800</a>",
    ],
    ids=["empty", "mismatched-tag", "text", "unknown-encoding", "lone-surrogate"],
)
def test_malformed_xml_is_refused_as_malformed(document: bytes | str) -> None:
    assert refusal(document).title == "malformed XML"


@settings(max_examples=200)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_arbitrary_input_never_raises_anything_but_workflow_error(document: bytes | str) -> None:
    try:
        parse_bpmn(document)
    except WorkflowError as error:
        assert error.problems


def test_text_input_is_accepted_with_a_byte_order_mark() -> None:
    text = fixture("data-task-with-bom-and-diagram.bpmn").decode("utf-8")

    assert text.startswith("\ufeff")
    assert [t.id for t in parse_bpmn(text).tasks()] == ["Form"]


def test_root_without_process_is_not_bpmn() -> None:
    document = '<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"/>'

    error = refusal(document)

    assert error.title == "not a BPMN 2.0 document"
    assert error.problems == ["definitions contains no process"]


# --- unsupported elements and structural rules ---------------------------------------------


def test_unsupported_elements_are_all_named_with_their_ids() -> None:
    body = LINEAR + """
    <bpmn:eventBasedGateway id="Gateway_1"/>
    <bpmn:subProcess id="Sub_1"><bpmn:task id="Inner"/></bpmn:subProcess>
    <bpmn:boundaryEvent id="Boundary_1" attachedToRef="T1"/>"""

    error = refusal(bpmn(body))

    assert error.problems == [
        "unsupported element eventBasedGateway (id=Gateway_1)",
        "unsupported element subProcess (id=Sub_1)",
        "unsupported element boundaryEvent (id=Boundary_1)",
    ]


def test_flows_into_a_refused_element_do_not_repeat_the_problem() -> None:
    body = LINEAR.replace('targetRef="End"', 'targetRef="Fork"') + """
    <bpmn:eventBasedGateway id="Fork"/>
    <bpmn:sequenceFlow id="F3" sourceRef="Fork" targetRef="End"/>"""

    error = refusal(bpmn(body))

    assert error.problems == ["unsupported element eventBasedGateway (id=Fork)"]


def test_timer_start_event_is_refused() -> None:
    body = LINEAR.replace(
        '<bpmn:startEvent id="Start"/>',
        '<bpmn:startEvent id="Start"><bpmn:timerEventDefinition id="Timer_1"/></bpmn:startEvent>',
    )

    error = refusal(bpmn(body))

    assert error.problems == [
        "unsupported element timerEventDefinition (id=Timer_1) in startEvent (id=Start)"
    ]


def test_foreign_elements_inside_the_process_are_refused() -> None:
    error = refusal(bpmn(LINEAR + '<altinn:thing id="X"/>'))

    assert error.problems == [
        "unsupported element thing (id=X, namespace=http://altinn.no/process)"
    ]


def test_harmless_elements_and_diagrams_are_ignored() -> None:
    body = LINEAR + """
    <bpmn:documentation>A process</bpmn:documentation>
    <bpmn:laneSet id="Lanes">
      <bpmn:lane id="Lane_1"><bpmn:flowNodeRef>T1</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
    <bpmn:textAnnotation id="Note"><bpmn:text>note</bpmn:text></bpmn:textAnnotation>
    <bpmn:association id="Assoc" sourceRef="T1" targetRef="Note"/>
    <bpmn:dataObject id="Data"/>
    <bpmn:dataObjectReference id="DataRef" dataObjectRef="Data"/>
    <bpmn:dataStoreReference id="Store"/>
    <!-- a comment -->"""
    diagram = """
  <bpmndi:BPMNDiagram id="D"><bpmndi:BPMNPlane id="Plane" bpmnElement="P1"/></bpmndi:BPMNDiagram>"""

    graph = parse_bpmn(bpmn(body, outside=diagram))

    assert list(graph.nodes) == ["Start", "T1", "End"]


def test_user_service_and_script_tasks_map_to_their_kinds() -> None:
    body = """
    <bpmn:startEvent id="S"/>
    <bpmn:userTask id="U"/>
    <bpmn:serviceTask id="Svc"/>
    <bpmn:scriptTask id="Scr" scriptFormat="python">
      <bpmn:script>x = 1</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="E"/>
    <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="U"/>
    <bpmn:sequenceFlow id="F2" sourceRef="U" targetRef="Svc"/>
    <bpmn:sequenceFlow id="F3" sourceRef="Svc" targetRef="Scr"/>
    <bpmn:sequenceFlow id="F4" sourceRef="Scr" targetRef="E"/>"""

    graph = parse_bpmn(bpmn(body))

    assert [(t.id, t.kind) for t in graph.tasks()] == [
        ("U", NodeKind.USER_TASK),
        ("Svc", NodeKind.SERVICE_TASK),
        ("Scr", NodeKind.SERVICE_TASK),
    ]


def test_altinn_flowtype_attribute_is_read() -> None:
    body = LINEAR.replace(
        'id="F2" sourceRef',
        'xmlns:a="http://altinn.no" a:flowtype="AbandonCurrentReturnToNext" id="F2" sourceRef',
    )

    assert parse_bpmn(bpmn(body)).flow("F2").flow_type == "AbandonCurrentReturnToNext"


def test_duplicate_ids_are_refused() -> None:
    error = refusal(bpmn(LINEAR + '<bpmn:task id="T1"/>'))

    assert error.problems == ["duplicate id 'T1' (task)"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (LINEAR.replace('<bpmn:startEvent id="Start"/>', ""), "no start event"),
        (
            LINEAR + '<bpmn:sequenceFlow id="Back" sourceRef="T1" targetRef="Start"/>',
            "start event Start has incoming flows",
        ),
        (
            LINEAR + '<bpmn:startEvent id="Lonely"/>',
            "start event Lonely has no outgoing flow",
        ),
        (
            LINEAR + '<bpmn:sequenceFlow id="After" sourceRef="End" targetRef="T1"/>',
            "end event End has outgoing flows",
        ),
        (
            LINEAR.replace('<bpmn:task id="T1"/>', '<bpmn:task id="T1" default="F1"/>'),
            "default flow 'F1' of T1 is not one of its outgoing flows",
        ),
        (
            LINEAR.replace('sourceRef="T1" targetRef="End"', 'sourceRef="Nowhere" targetRef="End"'),
            "flow F2: source 'Nowhere' is not an element of the process",
        ),
        (
            LINEAR.replace('sourceRef="T1" targetRef="End"', 'targetRef="End"'),
            "sequenceFlow F2 has no sourceRef",
        ),
        (LINEAR + "<bpmn:task/>", "task without an id"),
    ],
    ids=[
        "no-start", "start-incoming", "start-no-outgoing", "end-outgoing",
        "default-not-outgoing", "dangling-source", "missing-sourceRef", "no-id",
    ],
)
def test_structural_defects_are_refused(body: str, problem: str) -> None:
    error = refusal(bpmn(body))

    assert problem in error.problems


def test_all_problems_are_reported_at_once() -> None:
    body = LINEAR.replace('targetRef="T1"', 'targetRef="Missing"')
    body += '<bpmn:eventBasedGateway id="G"/>'

    error = refusal(bpmn(body))

    assert len(error.problems) == 2
    assert "Missing" in str(error) and "eventBasedGateway" in str(error)


def test_first_executable_process_is_chosen() -> None:
    other = f'<bpmn:process id="Exec" isExecutable="true">{LINEAR.replace("T1", "X1")}</bpmn:process>'
    not_executable = 'id="NotExec" isExecutable="false"'

    graph = parse_bpmn(bpmn(LINEAR, process_attrs=not_executable, outside=other))

    assert graph.process_id == "Exec"
    assert [t.id for t in graph.tasks()] == ["X1"]


# --- the graph model -------------------------------------------------------------------------


def test_graph_is_immutable_and_hashable() -> None:
    graph = parse_bpmn(fixture("gateway-default-flow.bpmn"))

    assert hash(graph) == hash(parse_bpmn(fixture("gateway-default-flow.bpmn")))
    with pytest.raises(dataclasses.FrozenInstanceError):
        graph.flows = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        graph.nodes["X"] = graph.node("Apply")  # type: ignore[index]


def test_unknown_node_or_flow_raises_key_error() -> None:
    graph = parse_bpmn(fixture("linear-data-then-confirmation.bpmn"))

    with pytest.raises(KeyError, match="Nope"):
        graph.node("Nope")
    with pytest.raises(KeyError, match="Nope"):
        graph.flow("Nope")


def script_task() -> Node:
    return Node("t", NodeKind.SERVICE_TASK, "Run", "script", {"script": "hello"})


def test_graphs_can_be_built_directly_from_plain_mappings() -> None:
    graph = FlowGraph(
        nodes={
            "s": Node("s", NodeKind.START_EVENT),
            "t": script_task(),
            "e": Node("e", NodeKind.END_EVENT),
        },
        flows=(Flow("a", "s", "t"), Flow("b", "t", "e")),
    )

    assert graph_problems(graph) == []
    assert graph.node("t").extensions["script"] == "hello"
    assert [n.id for n in graph.start_events()] == ["s"]
    assert [n.id for n in graph.end_events()] == ["e"]
    assert hash(graph.node("t")) == hash(script_task())


def test_duplicate_flow_ids_in_a_built_graph_are_reported() -> None:
    graph = FlowGraph(
        nodes={"s": Node("s", NodeKind.START_EVENT), "e": Node("e", NodeKind.END_EVENT)},
        flows=(Flow("a", "s", "e"), Flow("a", "s", "e")),
    )

    assert graph_problems(graph) == ["duplicate id 'a'"]
