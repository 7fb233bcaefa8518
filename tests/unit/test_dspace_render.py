"""DSpace's HAL shapes, rendered from read-model rows without a server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from aiohttp.test_utils import make_mocked_request

from services.common.user_ids import user_uuid
from services.faces.dspace.render import STATUS, WORDS, files, iso, page, parameters, process, script
from services.scripts.descriptor import ScriptDescriptor, ScriptParameter
from services.scripts.queries import ProcessSummary
from services.scripts.registry import ScriptRegistry

ECHO = ScriptDescriptor(
    name="echo", description="prints", command=("echo",),
    parameters=(
        ScriptParameter("-m", "--message", "the message", "string", True),
        ScriptParameter("-n", "--count", "how often", "integer", False),
        ScriptParameter("-v", None, "loud", "boolean", False),
    ),
    time_limit_seconds=1, output_limit_bytes=1, memory_limit_bytes=1, directory=Path("/opt"),
)
REGISTRY = ScriptRegistry({"echo": ECHO})
PID = UUID("6f0c2c4e-0000-4000-8000-000000000001")
T0 = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)


def a_row(**overrides: Any) -> ProcessSummary:
    """The summary of a finished echo run."""
    fields: dict[str, Any] = dict(
        instance_id=PID, script="echo", definition_key="adhoc.1", status="completed", initiator="bob",
        started_at=T0, scheduled_for=None, ended_at=T0, created_at=T0, parameters={"message": "hi", "count": 2},
    )
    return ProcessSummary(**{**fields, **overrides})


def test_every_internal_status_has_a_dspace_word_and_each_word_lists_its_statuses() -> None:
    assert set(STATUS) == {"created", "scheduled", "running", "waiting", "completed", "failed", "stopped"}
    # The document's closed set; COMPLETED is a filter synonym of STOPPED (issue 9).
    assert WORDS == {"SCHEDULED": ("created", "scheduled"), "RUNNING": ("running", "waiting"),
                     "STOPPED": ("completed", "stopped"), "FAILED": ("failed",), "COMPLETED": ("completed", "stopped")}
    assert set(STATUS.values()) == {"RUNNING", "STOPPED", "FAILED", "SCHEDULED"}


def test_times_are_iso_with_z_and_absent_times_stay_absent() -> None:
    assert iso(T0) == "2024-05-01T08:30:00Z"
    assert iso(None) is None


def test_parameters_are_named_as_the_script_declares_them_with_text_values() -> None:
    rendered = parameters(REGISTRY, "echo", {"message": "hi", "count": 2, "v": True, "other": 1.5})

    assert rendered == [{"name": "-m", "value": "hi"}, {"name": "-n", "value": "2"},
                        {"name": "-v", "value": "true"}, {"name": "other", "value": "1.5"}]


def test_parameters_of_an_unknown_script_keep_their_stored_names() -> None:
    assert parameters(REGISTRY, "gone", {"x": False}) == [{"name": "x", "value": "false"}]


def test_a_process_carries_the_documents_fields_and_dspaces_with_its_links() -> None:
    body = process(a_row(), REGISTRY)

    assert (body["id"], body["processId"], body["userId"], body["scriptName"]) == (str(PID), str(PID), user_uuid("bob"), "echo")
    assert (body["status"], body["processStatus"]) == ("STOPPED", "COMPLETED")
    assert body["startTime"] == body["endTime"] == body["creationTime"] == "2024-05-01T08:30:00Z"
    assert body["parameters"] == [{"name": "-m", "value": "hi"}, {"name": "-n", "value": "2"}]
    href = f"/api/system/processes/{PID}"
    assert body["_links"] == {"self": {"href": href}, "script": {"href": "/api/system/scripts/echo"},
                              "output": {"href": f"{href}/output"}, "files": {"href": f"{href}/files"}}


def test_a_scheduled_flow_shows_its_start_time_and_its_definition_as_the_script() -> None:
    body = process(a_row(script=None, status="scheduled", started_at=None, scheduled_for=T0, ended_at=None), REGISTRY)

    assert (body["scriptName"], body["status"], body["startTime"], body["endTime"]) == (
        "adhoc.1", "SCHEDULED", "2024-05-01T08:30:00Z", None)


def test_a_script_lists_its_parameters_in_dspaces_shape() -> None:
    body = script(ECHO)

    assert body["parameters"][0] == {"name": "-m", "nameLong": "--message", "description": "the message",
                                     "type": "string", "mandatory": True}
    assert body["_links"]["processes"] == {"href": "/api/system/scripts/echo/processes"}


def test_files_are_embedded_with_their_type_and_checksum_and_linked_by_name() -> None:
    listed = [{"name": "in.csv", "size": 3, "mediaType": "text/csv", "kind": "input", "sha256": "ab"},
              {"name": "out/report.txt", "size": 5, "mediaType": "text/plain", "kind": "output", "sha256": "cd"}]

    body = files(str(PID), listed)

    href = f"/api/system/processes/{PID}/files"
    assert [(f["fileType"], f["checkSum"]["value"]) for f in body["_embedded"]["files"]] == [
        ("inputfile", "ab"), ("script_output", "cd")]
    assert body["_links"]["out/report.txt"] == {"href": f"{href}/out%2Freport.txt"}  # names percent-encoded (issue 9)
    assert body["page"] == {"size": 2, "totalElements": 2, "totalPages": 1, "number": 0}


def a_page(number: int, total: int, size: int = 2) -> dict[str, Any]:
    request = make_mocked_request("GET", f"/api/system/processes?script=echo&page={number}&size={size}")
    return page(request, "processes", [], number=number, size=size, total=total)


def test_a_middle_page_links_everywhere_and_keeps_the_other_query_parameters() -> None:
    body = a_page(1, total=5)

    assert body["page"] == {"size": 2, "totalElements": 5, "totalPages": 3, "number": 1}
    assert {name: link["href"].split("?")[1] for name, link in body["_links"].items()} == {
        "self": "script=echo&page=1&size=2", "first": "script=echo&page=0&size=2",
        "last": "script=echo&page=2&size=2", "prev": "script=echo&page=0&size=2", "next": "script=echo&page=2&size=2"}


@pytest.mark.parametrize(("number", "total", "links"), [
    (0, 0, {"self"}),
    (0, 5, {"self", "first", "last", "next"}),
    (2, 5, {"self", "first", "last", "prev"}),
])
def test_the_first_last_and_empty_pages_link_only_where_there_is_somewhere_to_go(number: int, total: int, links: set[str]) -> None:
    assert set(a_page(number, total)["_links"]) == links


def test_a_page_past_the_end_points_back_to_the_last_page() -> None:
    body = a_page(7, total=5)

    assert "next" not in body["_links"]
    assert body["_links"]["prev"]["href"].endswith("page=2&size=2")
