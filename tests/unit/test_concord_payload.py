"""What a Concord start asks to run: entry points, flags, start times, arguments and the plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from services.faces.concord.payload import (
    EntryPoint, build_plan, flow_model, merge, nest, parse_bool, parse_entry_point, parse_start_at, request_object,
)
from services.http.problems import ProblemError

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
BPMN = b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"/>'


def refused(call: Any, *args: Any, **kwargs: Any) -> ProblemError:
    with pytest.raises(ProblemError) as info:
        call(*args, **kwargs)
    return info.value


def plan(**overrides: Any):
    fields: dict[str, Any] = dict(archive=None, request=None, texts={}, files={}, entry_point=None, start_at=None, sync=False)
    return build_plan(**{**fields, **overrides})


# --- entry points, flags, start times --------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("review", EntryPoint("review", None, None)),
    ("review:main", EntryPoint("review", None, "main")),
    ("review:default:main", EntryPoint("review", None, "main")),
    ("review::main", EntryPoint("review", None, "main")),
    ("review:2:main", EntryPoint("review", "2", "main")),
    ("review:prod:", EntryPoint("review", "prod", None)),
])
def test_an_entry_point_names_a_project_a_repository_and_a_flow(text: str, expected: EntryPoint) -> None:
    assert parse_entry_point(text) == expected


@pytest.mark.parametrize("text", ["a:b:c:d", ":main", "", "x" * 401])
def test_an_entry_point_that_cannot_be_one_is_400(text: str) -> None:
    assert refused(parse_entry_point, text).status == 400


@pytest.mark.parametrize(("raw", "expected"), [(None, False), ("", False), ("true", True), ("TRUE", True), ("False", False)])
def test_a_flag_is_true_or_false_in_any_case_and_absent_is_false(raw: str | None, expected: bool) -> None:
    assert parse_bool(raw, "sync") is expected


def test_a_flag_that_is_neither_is_400_naming_it() -> None:
    error = refused(parse_bool, "maybe", "sync")

    assert error.status == 400 and "sync" in error.detail


def test_a_start_time_is_an_iso_moment_with_an_offset_kept_in_utc() -> None:
    assert parse_start_at(None, NOW) is None
    assert parse_start_at("2030-01-01T14:00:00+02:00", NOW) == NOW
    assert parse_start_at("2030-01-02T00:00:00Z", NOW) == NOW + timedelta(hours=12)


@pytest.mark.parametrize(("raw", "says"), [
    ("tomorrow", "ISO-8601"), ("2030-01-02T00:00:00", "time zone"), ("2029-12-31T23:59:59Z", "in the past"),
])
def test_a_start_time_that_is_malformed_local_or_past_is_400(raw: str, says: str) -> None:
    error = refused(parse_start_at, raw, NOW)

    assert error.status == 400 and says in error.detail


# --- arguments ---------------------------------------------------------------------------------


def test_merging_replaces_values_and_merges_objects_deeply_without_changing_either_side() -> None:
    base = {"a": 1, "o": {"x": 1, "y": {"p": 1}}, "keep": True}
    over = {"a": 2, "o": {"y": {"q": 2}, "z": 3}}

    assert merge(base, over) == {"a": 2, "o": {"x": 1, "y": {"p": 1, "q": 2}, "z": 3}, "keep": True}
    assert base == {"a": 1, "o": {"x": 1, "y": {"p": 1}}, "keep": True}


def test_text_parts_nest_by_dots_repeat_as_lists_and_skip_the_reserved_names() -> None:
    texts = {"arguments.x.y": ["1"], "x.z": ["2"], "tags": ["a", "b"], "entryPoint": ["review"], "sync": ["true"]}

    assert nest(texts) == {"x": {"y": "1", "z": "2"}, "tags": ["a", "b"]}


@pytest.mark.parametrize(("texts", "says"), [
    ({"a..b": ["1"]}, "empty segment"),
    ({"arguments": ["1"]}, "empty segment"),
    ({"a": ["1"], "a.b": ["2"]}, "not an object"),
    ({"a.b": ["1"], "a": ["2"]}, "both a value and an object"),
])
def test_text_parts_that_clash_or_have_an_empty_segment_are_400(texts: dict[str, list[str]], says: str) -> None:
    error = refused(nest, texts)

    assert error.status == 400 and says in error.detail


def test_a_request_is_a_json_object_whose_arguments_are_one() -> None:
    assert request_object(b'{"arguments": {"a": 1}, "entryPoint": "r:m"}', "request") == {
        "arguments": {"a": 1}, "entryPoint": "r:m"}
    assert refused(request_object, b"{not json", "request").title == "Malformed JSON"
    for bad in ([1], {"arguments": [1]}, {"entryPoint": 3}):
        assert refused(request_object, bad, "request.json").detail.startswith("request.json")


# --- the archive's flow model ----------------------------------------------------------------


def test_an_archive_without_a_model_has_none_and_nested_models_do_not_count() -> None:
    assert flow_model({"readme.txt": b"hi", "sub/flow.bpmn": BPMN}) is None


def test_a_bpmn_model_at_the_root_is_its_workflow_text() -> None:
    assert flow_model({"approval.bpmn": BPMN}) == ("approval.bpmn", {"workflow": BPMN.decode()})


def test_flow_json_is_a_state_machine_or_a_configuration_of_known_fields() -> None:
    machine = {"initialState": "A", "states": {"A": {"final": True}}}
    configuration = {"script": "echo-params", "name": "n", "input": {"m": 1}, "cron": "* * * * *"}

    assert flow_model({"flow.json": orjson.dumps(machine)}) == ("flow.json", {"workflow": machine})
    assert flow_model({"flow.json": orjson.dumps(configuration)}) == (
        "flow.json", {"script": "echo-params", "name": "n", "input": {"m": 1}})


def test_a_concord_project_is_its_root_file_and_the_concord_folders_files() -> None:
    files = {"concord.yml": b"flows: {}", "concord/extra.concord.yml": b"forms: {}", "concord/notes.txt": b"x"}

    assert flow_model(files) == ("concord.yml,concord/extra.concord.yml", {"workflow": {"concord": {
        "concord.yml": "flows: {}", "concord/extra.concord.yml": "forms: {}"}}})


@pytest.mark.parametrize(("files", "status"), [
    ({"a.bpmn": BPMN, "flow.json": b"{}"}, 400),
    ({"concord.yml": b"flows: {}", "flow.bpmn": BPMN}, 400),
    ({"concord/extra.concord.yml": b"flows: {}"}, 400),
    ({"concord.yml": b"\xff\xfe"}, 400),
    ({"flow.bpmn": b"\xff\xfe"}, 400),
    ({"flow.json": b"[1]"}, 400),
    ({"flow.json": b'{"name": "nothing to run"}'}, 422),
])
def test_models_that_are_several_rootless_undecodable_or_empty_are_refused(files: dict[str, bytes], status: int) -> None:
    assert refused(flow_model, files).status == status


# --- the plan ----------------------------------------------------------------------------------


def test_arguments_merge_from_the_archive_then_the_request_then_text_parts() -> None:
    archive = {"request.json": b'{"arguments": {"a": 1, "b": 1, "o": {"x": 1}}}', "flow.json": b'{"script": "s"}'}

    result = plan(archive=archive, request={"arguments": {"b": 2, "o": {"y": 2}}}, texts={"o.z": ["3"], "b": ["3"]})

    assert result.arguments == {"a": 1, "b": "3", "o": {"x": 1, "y": 2, "z": "3"}}


def test_the_archives_other_files_then_the_forms_files_are_the_process_files() -> None:
    archive = {"request.json": b"{}", "flow.bpmn": BPMN, "data.txt": b"archive", "docs/a.txt": b"a"}

    result = plan(archive=archive, files={"data.txt": b"form"})

    assert result.files == {"data.txt": b"form", "docs/a.txt": b"a"}


def test_an_archive_model_runs_ad_hoc_and_an_entry_point_without_a_colon_names_its_flow() -> None:
    result = plan(archive={"flow.bpmn": BPMN}, entry_point="main", sync=True, start_at=NOW)

    assert (result.entry, result.adhoc, result.flow) == (None, {"workflow": BPMN.decode()}, "main")
    assert (result.sync, result.start_at) == (True, NOW)


def test_an_entry_point_with_a_colon_names_a_configuration() -> None:
    assert plan(entry_point="review:prod:main").entry == EntryPoint("review", "prod", "main")
    assert plan(archive={"request.json": b'{"entryPoint": "review:main"}'}).entry == EntryPoint("review", None, "main")


def test_an_entry_point_without_a_colon_and_no_model_names_a_configuration() -> None:
    assert plan(entry_point="review").entry == EntryPoint("review")


def test_the_explicit_entry_point_wins_over_the_archives_request() -> None:
    result = plan(archive={"request.json": b'{"entryPoint": "other:main"}'}, entry_point="review:main")

    assert result.entry == EntryPoint("review", None, "main")


def test_a_configuration_named_beside_an_archive_model_is_ambiguous_and_400() -> None:
    error = refused(plan, archive={"flow.bpmn": BPMN}, entry_point="review:default:main")

    assert error.status == 400 and "one or the other" in error.detail


def test_nothing_to_run_is_400() -> None:
    error = refused(plan, archive={"readme.txt": b"hi"})

    assert error.status == 400 and "nothing to run" in error.detail
