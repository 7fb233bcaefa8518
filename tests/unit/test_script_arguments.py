"""Checking a script's arguments: names in any spelling, types, mandatory ones, and the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from events.errors import InvalidInput
from services.scripts.descriptor import ScriptDescriptor, ScriptParameter
from services.scripts.registry import check_arguments


def a_parameter(name: str, long: str | None, type_: str = "string", *, mandatory: bool = False) -> ScriptParameter:
    return ScriptParameter(name=name, name_long=long, description="", type=type_, mandatory=mandatory)


SCRIPT = ScriptDescriptor(
    name="report",
    description="makes a report",
    command=("{python}", "-u", "{here}/report.py"),
    parameters=(
        a_parameter("-m", "--message", mandatory=True),
        a_parameter("-n", "--count", "integer"),
        a_parameter("-v", "--verbose", "boolean"),
        a_parameter("-d", None, "date"),
        a_parameter("-i", "--input", "file"),
        a_parameter("-o", "--output", "output"),
    ),
    time_limit_seconds=60, output_limit_bytes=1024, memory_limit_bytes=1 << 20, directory=Path("/opt/scripts"),
)


def problems(arguments: dict[str, Any], files: set[str] = frozenset(), **kw: Any) -> list[str]:
    with pytest.raises(InvalidInput) as info:
        check_arguments(SCRIPT, arguments, set(files), **kw)
    assert "report" in info.value.detail
    return info.value.problems


@pytest.mark.parametrize("name", ["-m", "--message", "m", "message"])
def test_a_parameter_answers_to_its_short_and_long_names_with_or_without_dashes(name: str) -> None:
    assert check_arguments(SCRIPT, {name: "hi"}, set()) == {"message": "hi"}


def test_values_are_stored_under_the_long_name_else_the_short_one() -> None:
    values = check_arguments(SCRIPT, {"-m": "hi", "-n": "3", "-d": "2024-02-29"}, set())

    assert values == {"message": "hi", "count": 3, "d": "2024-02-29"}


def test_an_unknown_name_is_refused_from_a_caller_and_ignored_in_a_flows_data() -> None:
    assert problems({"-m": "hi", "colour": "red"}) == ["colour: report has no such parameter"]
    assert check_arguments(SCRIPT, {"-m": "hi", "colour": "red"}, set(), strict=False) == {"message": "hi"}


def test_a_parameter_given_twice_under_two_names_is_refused() -> None:
    assert problems({"-m": "a", "--message": "b"}) == ["--message: given more than once"]


def test_a_missing_mandatory_parameter_is_named() -> None:
    assert problems({"-n": 1}) == ["-m: the mandatory parameter --message is missing"]


def test_every_bad_argument_is_reported_at_once() -> None:
    found = problems({"-n": "many", "-v": "perhaps", "-x": 1})

    assert [p.split(":")[0] for p in found] == ["-n", "-v", "-x", "-m"]


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), (False, False), ("yes", True), ("ON", True), ("1", True), ("", True), (None, True),
    ("no", False), ("off", False), ("0", False), ("false", False),
])
def test_a_boolean_takes_the_usual_words_and_a_bare_flag_is_true(value: Any, expected: bool) -> None:
    assert check_arguments(SCRIPT, {"-m": "hi", "-v": value}, set())["verbose"] is expected


@pytest.mark.parametrize(("value", "expected"), [(7, 7), ("42", 42), ("-3", -3), ("+5", 5)])
def test_an_integer_takes_whole_numbers_as_numbers_or_text(value: Any, expected: int) -> None:
    assert check_arguments(SCRIPT, {"-m": "hi", "-n": value}, set())["count"] == expected


@pytest.mark.parametrize(("name", "value", "says"), [
    ("-n", "4.2", "whole number"), ("-n", True, "whole number"), ("-n", "1" * 19, "whole number"),
    ("-v", "perhaps", "true or false"),
    ("-d", "yesterday", "ISO-8601 date"), ("-d", "2024-02-30", "ISO-8601 date"),
    ("-i", "missing.csv", "names no uploaded file"),
    ("-o", "dir/out.txt", "plain file name"), ("-o", "..", "plain file name"),
    ("-o", "a\x00b", "NUL"), ("-i", {"nested": 1}, "requires a file value"), ("-i", None, "requires a file value"),
])
def test_a_value_of_the_wrong_type_is_refused_saying_why(name: str, value: Any, says: str) -> None:
    found = problems({"-m": "hi", name: value})

    assert len(found) == 1 and found[0].startswith(f"{name}: ") and says in found[0]


def test_dates_and_times_files_and_outputs_that_fit_are_kept_as_text() -> None:
    values = check_arguments(
        SCRIPT, {"-m": "hi", "-d": "2024-01-02T03:04:05Z", "-i": "in.csv", "-o": "out.txt"}, {"in.csv"},
    )

    assert values == {"message": "hi", "d": "2024-01-02T03:04:05Z", "input": "in.csv", "output": "out.txt"}


def test_the_command_line_has_one_argument_per_value_in_declared_order() -> None:
    values = check_arguments(SCRIPT, {"-d": "2024-01-02", "-v": True, "-n": 2, "-m": "-rf /"}, set())

    argv = SCRIPT.argv(values)

    assert argv[1:] == ["-u", "/opt/scripts/report.py", "--message=-rf /", "--count=2", "-v", "-d", "2024-01-02"]
    assert argv[0] != "{python}"


def test_a_false_flag_is_left_out_of_the_command_line() -> None:
    assert "-v" not in SCRIPT.argv(check_arguments(SCRIPT, {"-m": "hi", "-v": "no"}, set()))
