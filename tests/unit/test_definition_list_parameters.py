"""The configuration list's query parameters: `_sort` clauses over safe names, and bounded integers."""

from __future__ import annotations

import pytest

from events.errors import MalformedInput
from services.definitions.queries import _int, _sort_clause

MAX = 2**31 - 1


@pytest.mark.parametrize(("sort", "clause"), [
    (None, "key ASC"),
    ("", "key ASC"),
    ("name", "configuration->>'name' ASC NULLS LAST, key ASC"),
    ("name,-service", "configuration->>'name' ASC NULLS LAST, configuration->>'service' DESC NULLS LAST, key ASC"),
    ("+name,", "configuration->>'name' ASC NULLS LAST, key ASC"),
    ("-_id", "key DESC NULLS LAST, key ASC"),
    ('{"name": 1, "service": -1}', "configuration->>'name' ASC NULLS LAST, configuration->>'service' DESC NULLS LAST, key ASC"),
    (' {"name": "desc", "cron": "-1"}', "configuration->>'name' DESC NULLS LAST, configuration->>'cron' DESC NULLS LAST, key ASC"),
])
def test_sort_takes_the_comma_form_or_json_and_always_ends_on_the_key(sort: str | None, clause: str) -> None:
    assert _sort_clause(sort) == clause


@pytest.mark.parametrize("sort", [
    "name;DROP TABLE definition_view", "na'me", "-", "1name", "name,ser vice", "x" * 65, '{"a-b": 1}', '{"": 1}',
])
def test_a_sort_field_that_is_not_a_plain_name_is_refused_naming_it(sort: str) -> None:
    with pytest.raises(MalformedInput) as info:
        _sort_clause(sort)

    assert info.value.problems[0].startswith("_sort: invalid field")


def test_a_sort_that_looks_like_json_but_is_not_is_refused() -> None:
    with pytest.raises(MalformedInput) as info:
        _sort_clause('{"name": 1')

    assert info.value.problems == ["_sort: not valid JSON"]


@pytest.mark.parametrize(("params", "minimum", "expected"), [
    ({}, 0, 7),
    ({"_skip": "0"}, 0, 0),
    ({"_skip": "25"}, 0, 25),
    ({"_skip": "-1"}, -1, -1),
    ({"_skip": str(MAX)}, 0, MAX),
])
def test_an_integer_parameter_is_its_default_when_absent_else_its_value(params: dict[str, str], minimum: int, expected: int) -> None:
    assert _int(params, "_skip", 7, minimum) == expected


@pytest.mark.parametrize("raw", ["-1", str(MAX + 1), "9999999999", "12345678901", "abc", "1e3", "2.5", " 3", "", "٣"])
def test_an_integer_parameter_out_of_range_or_not_a_plain_number_is_refused_naming_it(raw: str) -> None:
    with pytest.raises(MalformedInput) as info:
        _int({"_skip": raw}, "_skip", 0, 0)

    assert info.value.detail == f"_skip must be an integer from 0 to {MAX}"
    assert info.value.problems == [f"_skip: {raw!r} is not allowed"]
