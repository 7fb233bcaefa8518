"""Query parameters: OpenDataDSL's list parameters, the field names that reach SQL, bounded integers
and booleans as every face reads them."""

from __future__ import annotations

import pytest

from events.errors import MalformedInput
from services.definitions.models import DefinitionQuery
from services.definitions.queries import _column
from services.faces.opendatadsl.params import list_query, sort_fields
from services.http.params import MAX_INT, boolean, integer
from services.http.problems import ProblemError


def refused(call, *args, **kwargs) -> ProblemError:
    with pytest.raises(ProblemError) as info:
        call(*args, **kwargs)
    assert info.value.status == 400
    return info.value


# --- _sort --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("sort", "fields"), [
    (None, ()),
    ("", ()),
    ("name", (("name", False),)),
    ("name,-service", (("name", False), ("service", True))),
    ("+name,", (("name", False),)),
    ("-_id", (("_id", True),)),
    ('{"name": 1, "service": -1}', (("name", False), ("service", True))),
    (' {"name": "desc", "cron": "-1", "tags": "asc"}', (("name", True), ("cron", True), ("tags", False))),
])
def test_sort_takes_the_comma_form_or_json_as_field_and_direction_pairs(sort: str | None, fields: tuple) -> None:
    assert sort_fields(sort) == fields


@pytest.mark.parametrize(("sort", "problem"), [('{"name": 1', "_sort: not valid JSON"), ("{}x", "_sort: not valid JSON")])
def test_a_sort_that_looks_like_json_but_is_not_is_400(sort: str, problem: str) -> None:
    assert refused(sort_fields, sort).errors == [problem]


# --- the list query -----------------------------------------------------------------------------


def test_a_list_query_reads_limit_skip_sort_distinct_and_the_field_filters() -> None:
    query = list_query({"_limit": "5", "_skip": "10", "_sort": "-name", "_distinct": "service",
                        "_id": "P", "service": "ETL", "_unknown": "x"})

    assert query == DefinitionQuery(filters=(("_id", "P"), ("service", "ETL")), sort=(("name", True),),
                                    limit=5, skip=10, distinct="service")


def test_a_list_query_defaults_to_100_and_a_limit_of_minus_1_means_all() -> None:
    assert (list_query({}).limit, list_query({}).skip, list_query({}).distinct) == (100, 0, None)
    assert list_query({"_limit": "-1"}).limit is None


@pytest.mark.parametrize("params", [{"_limit": "-2"}, {"_skip": "-1"}, {"_limit": str(MAX_INT + 1)}, {"_skip": "ten"}])
def test_a_list_query_with_a_bad_limit_or_skip_is_400(params: dict[str, str]) -> None:
    refused(list_query, params)


# --- the names that reach SQL ------------------------------------------------------------------


@pytest.mark.parametrize(("name", "as_json", "sql"), [
    ("_id", False, "key"), ("name", False, "configuration->>'name'"), ("enabled", True, "configuration->'enabled'"),
    ("_type", False, "configuration->>'_type'"), ("x" * 64, False, f"configuration->>'{'x' * 64}'"),
])
def test_a_plain_field_name_becomes_its_column(name: str, as_json: bool, sql: str) -> None:
    assert _column(name, as_json=as_json) == sql


@pytest.mark.parametrize("name", [
    "name;DROP TABLE definition_view", "na'me", "", "1name", "ser vice", "x" * 65, "a-b", "é",
])
def test_a_field_name_that_is_not_plain_never_reaches_sql(name: str) -> None:
    with pytest.raises(MalformedInput) as info:
        _column(name)

    assert info.value.problems == [f"{name[:64]}: invalid field name"]


# --- integers and booleans ---------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "minimum", "maximum", "expected"), [
    (None, 0, MAX_INT, 7), ("0", 0, MAX_INT, 0), ("25", 0, MAX_INT, 25),
    ("-1", -1, MAX_INT, -1), (str(MAX_INT), 0, MAX_INT, MAX_INT), (str(2**63 - 1), 0, 2**63 - 1, 2**63 - 1),
])
def test_an_integer_is_its_default_when_absent_else_its_value_within_bounds(raw, minimum, maximum, expected) -> None:
    assert integer(raw, "_skip", default=7, minimum=minimum, maximum=maximum) == expected


@pytest.mark.parametrize("raw", ["", "-1", str(MAX_INT + 1), "1" * 20, "abc", "1e3", "2.5", " 3", "+3", "٣"])
def test_an_integer_out_of_range_or_not_plain_ascii_digits_is_400_naming_it(raw: str) -> None:
    error = refused(integer, raw, "_skip", default=0)

    assert error.detail.startswith(f"_skip must be an integer from 0 to {MAX_INT}")
    assert error.errors == [f"_skip: {raw[:40]!r} is not allowed"]


@pytest.mark.parametrize(("raw", "expected"), [(None, False), ("", False), ("true", True), ("TRUE", True), ("False", False)])
def test_a_boolean_is_true_or_false_in_any_case_and_absent_is_its_default(raw: str | None, expected: bool) -> None:
    assert boolean(raw, "sync") is expected
    assert boolean(None, "sync", default=True) is True


def test_a_boolean_that_is_neither_is_400_naming_it() -> None:
    assert "sync" in refused(boolean, "maybe", "sync").detail
