"""The Concord face's shapes, rendered from an instance without a server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from events.instance_state import InstanceStatus
from events.workflow import compile_workflow
from services.faces.concord.render import entry, portal_page, status_word, timestamp
from tests.factories import an_instance

GRAPH = compile_workflow({"workflow": {"states": {
    "Approve": {"triggers": {"Approve": "Done"}}, "Done": {"final": True}}}})


def test_a_timestamp_has_milliseconds_and_a_plus_0000_offset_as_the_document_shows() -> None:
    assert timestamp(datetime(2017, 7, 19, 16, 31, 39, 331_999, tzinfo=UTC)) == "2017-07-19T16:31:39.331+0000"
    assert timestamp(None) is None


@pytest.mark.parametrize(("status", "word"), [
    (InstanceStatus.CREATED, "NEW"), (InstanceStatus.SCHEDULED, "ENQUEUED"), (InstanceStatus.RUNNING, "RUNNING"),
    (InstanceStatus.WAITING, "SUSPENDED"), (InstanceStatus.COMPLETED, "FINISHED"), (InstanceStatus.FAILED, "FAILED"),
    (InstanceStatus.STOPPED, "CANCELLED"),
])
def test_each_status_has_its_concord_word(status: InstanceStatus, word: str) -> None:
    instance = an_instance()
    instance.status = status

    assert status_word(instance) == word


def test_a_failure_that_timed_out_is_timed_out() -> None:
    instance = an_instance()
    instance.fail("the script Timed Out after 60 s")

    assert status_word(instance) == "TIMED_OUT"


def test_an_entry_names_the_project_repository_status_element_and_arguments() -> None:
    instance = an_instance(parameters={"amount": 5})
    instance.start(GRAPH, None, "alice")

    body = entry(instance)

    assert (body["instanceId"], body["projectName"], body["repoName"], body["initiator"]) == (
        str(instance.id), "k", "1", "alice")
    assert (body["status"], body["currentElement"], body["totalRuntimeMs"]) == ("SUSPENDED", "Approve", None)
    assert body["meta"] == {"arguments": {"amount": 5}} and body["logFileName"] == f"{instance.id}.log"
    assert body["createdAt"].endswith("+0000") and body["startAt"] is None


def test_a_finished_entry_has_its_run_time_and_no_current_element() -> None:
    instance = an_instance()
    instance.start(GRAPH, None, "alice")
    instance.fire(GRAPH, "Approve", "alice")

    body = entry(instance)

    assert (body["status"], body["currentElement"]) == ("FINISHED", None)
    assert isinstance(body["totalRuntimeMs"], int) and body["totalRuntimeMs"] >= 0


def test_the_portal_page_shows_the_start_form_with_the_processes_values_and_its_status() -> None:
    instance = an_instance(parameters={"amount": 7})
    instance.start(GRAPH, None, "alice")

    page = portal_page(instance, {"name": "Review", "input": {"amount": 0, "note": None}}, "/portal/start")

    assert "<title>Review</title>" in page and "<b id='status'>SUSPENDED</b>" in page
    assert "name='amount' value='7'" in page and "name='note' value=''" in page
    assert "Waiting on: <b>Approve</b>" in page and "action='/portal/start'" in page


def test_the_portal_page_escapes_everything_it_shows() -> None:
    instance = an_instance(parameters={"x": "'><script>alert(1)</script>"})

    page = portal_page(instance, {"name": "<b>", "description": "a & b", "input": {"x": ""}}, "/start")

    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<title>&lt;b&gt;</title>" in page and "a &amp; b" in page


def test_a_configuration_without_input_says_it_takes_no_parameters() -> None:
    assert "This process takes no parameters." in portal_page(an_instance(), {}, "/start")
