"""Tokens: an instance's active executions, each with its id, named by every task-level event.

Today's engines run one token per instance (the root token, "1"); gateways that fork will add
more. What holds now: the token moves from element to element, every task-level event names it,
an ended, failed or stopped instance holds none, and replaying the events gives the same tokens.
"""

from __future__ import annotations

from events.instance import ProcessInstance
from events.instance_state import ROOT_TOKEN, Token
from events.workflow import compile_workflow
from tests.factories import an_instance

MACHINE = {"states": {"Open": {"triggers": {"Check": "Checking"}}, "Checking": {"triggers": {"Close": "Closed"}},
                      "Closed": {"final": True}}}
TASK_EVENTS = (ProcessInstance.TaskStarted, ProcessInstance.TaskEnded, ProcessInstance.TaskAbandoned,
               ProcessInstance.AutomatedTaskRequested, ProcessInstance.AutomatedTaskCompleted,
               ProcessInstance.AutomatedTaskFailed, ProcessInstance.Ended)


def replayed(events: list) -> ProcessInstance:
    aggregate = None
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


def test_the_root_token_moves_from_state_to_state_and_ends_with_the_flow() -> None:
    graph = compile_workflow({"workflow": MACHINE})
    instance = an_instance()

    instance.start(graph, None, "alice")
    assert instance.tokens == {ROOT_TOKEN: Token(ROOT_TOKEN, "Open", "user_task", ("Check",))}
    instance.fire(graph, "Check", "alice")
    assert instance.tokens == {ROOT_TOKEN: Token(ROOT_TOKEN, "Checking", "user_task", ("Close",))}
    assert instance.token_at("Checking") == ROOT_TOKEN
    instance.fire(graph, "Close", "alice")

    events = instance.collect_events()
    assert instance.tokens == {} and instance.status.finished
    assert {e.token for e in events if isinstance(e, TASK_EVENTS)} == {ROOT_TOKEN}
    assert [type(e).__name__ for e in events if isinstance(e, TASK_EVENTS)] == [
        "TaskStarted", "TaskEnded", "TaskStarted", "TaskEnded", "Ended"]


def test_an_automated_task_is_requested_and_done_on_the_token_at_it() -> None:
    graph = compile_workflow({"script": "echo"})
    instance = an_instance()
    instance.start(graph, None, "alice")
    assert instance.tokens == {ROOT_TOKEN: Token(ROOT_TOKEN, "script", "service_task")}

    instance.complete_automated(graph, "script", {"exit": 0}, "worker")

    events = instance.collect_events()
    done = [e for e in events if isinstance(e, ProcessInstance.AutomatedTaskCompleted)]
    assert [e.token for e in done] == [ROOT_TOKEN] and instance.tokens == {}
    assert replayed(events).tokens == {}


def test_a_failed_or_stopped_instance_holds_no_token_and_a_replay_holds_the_same_ones() -> None:
    graph = compile_workflow({"workflow": MACHINE})
    waiting, stopped = an_instance(), an_instance()
    for instance in (waiting, stopped):
        instance.start(graph, None, "alice")
    stopped.stop("alice", "enough")

    assert replayed(waiting.collect_events()).tokens == waiting.tokens != {}
    assert stopped.tokens == {} and replayed(stopped.collect_events()).tokens == {}


def test_a_concord_flow_waits_on_its_form_with_the_root_token() -> None:
    graph = compile_workflow({"workflow": {"flows": {"default": [{"form": "f"}]}, "forms": {"f": [{"x": {"type": "string"}}]}}})
    instance = an_instance()

    instance.start(graph, None, "alice")

    assert instance.tokens == {ROOT_TOKEN: Token(ROOT_TOKEN, "f", "user_task")}
