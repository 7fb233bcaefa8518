"""The list parameters of the OpenDataDSL document: `_limit`, `_skip`, `_sort`, `_distinct`, `field=value`."""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from services.definitions.models import DefinitionQuery
from services.http.params import integer
from services.http.problems import ProblemError


def sort_fields(sort: str | None) -> tuple[tuple[str, bool], ...]:
    """`_sort` as `name,-service` or JSON `{"name": 1, "service": -1}`: (field, descending) pairs."""
    if not sort:
        return ()
    if sort.lstrip().startswith("{"):
        try:
            spec = orjson.loads(sort)
        except orjson.JSONDecodeError:
            raise ProblemError(400, "invalid _sort", title="Malformed input", errors=["_sort: not valid JSON"]) from None
        if not isinstance(spec, dict):
            raise ProblemError(400, "invalid _sort", title="Malformed input", errors=["_sort: must be a JSON object"])
        return tuple((str(k), v in (-1, "-1", "desc")) for k, v in spec.items())
    return tuple((p.lstrip("-+"), p.startswith("-")) for p in sort.split(",") if p)


def list_query(params: Mapping[str, str]) -> DefinitionQuery:
    """The query a list request asks for; `_limit=-1` means all."""
    limit = integer(params.get("_limit"), "_limit", default=100, minimum=-1)
    return DefinitionQuery(
        filters=tuple((name, value) for name, value in params.items() if not name.startswith("_") or name == "_id"),
        sort=sort_fields(params.get("_sort")),
        limit=None if limit < 0 else limit,
        skip=integer(params.get("_skip"), "_skip", default=0),
        distinct=params.get("_distinct") or None,
    )
