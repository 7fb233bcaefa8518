"""Altinn's shapes of an instance, and BPMN for any graph, rendered without a server."""

from __future__ import annotations

from events.flows.bpmn import parse_bpmn
from events.workflow import compile_workflow
from services.faces.altinn.render import graph_to_bpmn, process_events, process_history, process_state
from tests.factories import an_instance

MACHINE = {"states": {
    "Check": {"requires": {"formData": True}, "triggers": {
        "Decide": [{"when": 'age >= 18 and name != "<&>"', "target": "Adult"}, {"target": "Minor"}]}},
    "Adult": {"final": True}, "Minor": {"final": True}}}
GRAPH = compile_workflow({"workflow": MACHINE})
DATA_TASK = """<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:altinn="http://altinn.no/process">
  <bpmn:process id="P"><bpmn:startEvent id="S"/>
    <bpmn:task id="Task_1"><bpmn:extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType>
    </altinn:taskExtension></bpmn:extensionElements></bpmn:task><bpmn:endEvent id="E"/>
    <bpmn:sequenceFlow id="f1" sourceRef="S" targetRef="Task_1"/><bpmn:sequenceFlow id="f2" sourceRef="Task_1" targetRef="E"/>
  </bpmn:process></bpmn:definitions>"""


def test_an_instance_not_started_has_no_start_task_or_end() -> None:
    assert process_state(an_instance(), GRAPH) == {"started": None, "startEvent": None}


def test_the_current_task_says_whether_it_can_be_completed_now() -> None:
    instance = an_instance()
    instance.start(GRAPH, None, "alice")

    before = process_state(instance, GRAPH)
    instance.submit({"age": 30}, "alice")
    after = process_state(instance, GRAPH)

    task = before["currentTask"]
    assert (task["elementId"], task["name"], task["flow"], task["altinnTaskType"]) == ("Check", "Check", 2, None)
    assert before["started"].endswith("Z") and task["started"].endswith("Z")
    assert (task["validated"]["canCompleteTask"], after["currentTask"]["validated"]["canCompleteTask"]) == (False, True)
    assert "ended" not in before and "endEvent" not in before  # the document's running shape has neither


def test_an_ended_instance_has_its_end_event_and_no_current_task() -> None:
    instance = an_instance(form_data={"age": 30})
    instance.start(GRAPH, None, "alice")
    instance.fire(GRAPH, "Decide", "alice")

    state = process_state(instance, GRAPH)

    assert "currentTask" not in state  # the document's ended shape has none
    assert state["endEvent"] == "Adult" and state["ended"].endswith("Z")


def test_the_history_names_the_start_each_task_with_its_times_and_the_end() -> None:
    instance = an_instance(form_data={"age": 3})
    instance.start(GRAPH, None, "alice")
    instance.fire(GRAPH, "Decide", "alice")

    history = process_history(instance)

    assert [(h["eventType"], h["elementId"]) for h in history] == [
        ("process_StartEvent", instance.start_event), ("process_StartTask", "Check"), ("process_EndEvent", "Minor")]
    assert history[1]["ended"] is not None and history[1]["flow"] == 2 and "occured" in history[2]


def test_process_events_are_named_as_the_document_lists_them_with_the_process_as_it_stood() -> None:
    instance = an_instance(owner="347829")
    instance.start(GRAPH, None, "alice")
    instance.submit({"age": 30}, "alice")
    instance.fire(GRAPH, "Decide", "alice")

    events = process_events(instance.collect_events(), GRAPH)

    assert [e["eventType"] for e in events] == ["process:Start", "process:StartTask", "process:EndTask", "process:EndEvent"]
    assert {e["instanceId"] for e in events} == {f"347829/{instance.id}"}
    assert "currentTask" not in events[0]["processInfo"] and "currentTask" not in events[3]["processInfo"]
    assert "ended" not in events[1]["processInfo"] and "endEvent" not in events[2]["processInfo"]
    assert events[1]["processInfo"]["currentTask"]["validated"]["canCompleteTask"] is False
    assert events[2]["processInfo"]["currentTask"]["ended"] is not None
    assert events[3]["processInfo"]["endEvent"] == "Adult"


def test_task_events_carry_the_documents_altinn_task_id_beside_the_task_type() -> None:
    graph = parse_bpmn(DATA_TASK)
    instance = an_instance()
    instance.start(graph, None, "alice")
    instance.next(graph, None, None, "alice")

    events = process_events(instance.collect_events(), graph)

    start_task, end_task = events[1]["processInfo"]["currentTask"], events[2]["processInfo"]["currentTask"]
    assert (start_task["altinnTaskId"], start_task["altinnTaskType"]) == ("data", "data")
    assert (end_task["altinnTaskId"], end_task["altinnTaskType"]) == ("data", "data")


def test_an_instance_without_an_owner_is_party_0() -> None:
    instance = an_instance(owner=None)
    instance.start(GRAPH, None, "alice")

    assert process_events(instance.collect_events(), GRAPH)[0]["instanceId"] == f"0/{instance.id}"


def test_a_compiled_state_machine_renders_as_bpmn_that_reads_back_as_the_same_graph() -> None:
    document = graph_to_bpmn(GRAPH)
    again = parse_bpmn(document)

    def shape(graph):
        return ([(n.id, n.kind, n.name, n.default_flow) for n in graph.nodes.values()],
                [(f.id, f.source, f.target, f.name, f.condition) for f in graph.flows])

    assert shape(again) == shape(GRAPH)
    assert 'age &gt;= 18 and name != "&lt;&amp;&gt;"' in document
