"""One OpenAPI 3.1 document for every face, generated from the route table, and a page for it."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, TypeAdapter

from contracts.problem import Problem
from services.http.openapi_storable import make_storable
from services.http.routes import Route

_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")
_REF = "#/components/schemas/{model}"


def _schema(shape: Any, components: dict[str, Any]) -> dict[str, Any]:
    if isinstance(shape, type) and issubclass(shape, BaseModel):
        schema = shape.model_json_schema(ref_template=_REF, by_alias=True)
        components.update(schema.pop("$defs", {}))
        components[shape.__name__] = schema
        return {"$ref": _REF.format(model=shape.__name__)}
    if isinstance(shape, dict):
        return shape
    schema = TypeAdapter(shape).json_schema(ref_template=_REF, by_alias=True)
    components.update(schema.pop("$defs", {}))
    return schema


_TEXT = {"type": "string", "minLength": 1}
_COUNT = {"type": "integer", "minimum": 0}
_DIGITS = {"type": "string", "pattern": "^[0-9]{1,18}$"}
_TIME = {"type": "string", "format": "date-time"}
# The type, bounds and enums of every query parameter a route names, by name: the handlers
# parse them by hand, and this is what they accept (a request outside it is a 400).
QUERY: dict[str, dict[str, Any]] = {
    "asOf": {"anyOf": [{"type": "string", "pattern": "^[0-9]{1,18}$"}, _TIME]},
    "targetId": {"type": "string"}, "pageSize": {"type": "integer", "minimum": 1, "maximum": 100},
    "paginationToken": {"type": "string", "pattern": "^[0-9]{0,9}$"},
    "page": {"type": "integer", "minimum": 0, "maximum": 999_999_999},
    "size": {"type": "integer", "minimum": 1, "maximum": 999_999_999},
    "script": {"type": "string"}, "userId": {"type": "string"},
    "fromTime": _TIME, "toTime": _TIME, "timeout": {"type": "integer", "description": "milliseconds; negative, or past the wait limit: the limit"},
    "sync": {"type": "string", "enum": ["true", "false", ""], "description": "in any case; empty is false"},
    "startAt": _TIME, "after": {"type": "integer", "minimum": 0, "maximum": 10**18 - 1},
    "limit": {"type": "integer", "minimum": 0, "maximum": 10_000},
    "_limit": {"type": "integer", "minimum": -1, "maximum": 2**31 - 1},  # -1: all
    "_skip": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
    "_sort": {"type": "string", "pattern": r"^(?:[-+]?[A-Za-z_][A-Za-z0-9_]{0,63}(?:,[-+]?[A-Za-z_][A-Za-z0-9_]{0,63})*)?$"},
    "_distinct": {"type": "string", "pattern": "^(?:[A-Za-z_][A-Za-z0-9_]{0,63})?$"},  # empty: none
    "instanceOwnerPartyId": _DIGITS, "startEvent": _TEXT, "id": _TEXT, "elementId": _TEXT,
}
REQUIRED_QUERY = {"instanceOwnerPartyId", "entryPoint"}
_PATH_PATTERN = re.compile(r"\{(\w+):([^}]*)\}")


def _query_entry(entry: str | tuple[str, dict[str, Any]]) -> tuple[str, dict[str, Any] | None]:
    # A route names a query parameter, or gives it with its own schema where it differs.
    return (entry, None) if isinstance(entry, str) else entry


def _parameters(route: Route) -> list[dict[str, Any]]:
    patterns = dict(_PATH_PATTERN.findall(route.path))
    path = [
        {"name": name, "in": "path", "required": True,
         "schema": {"type": "string", "pattern": f"^(?:{patterns.get(name, '[^/]+')})$"}}
        for name in _PARAM.findall(route.path)
    ]
    # A family of names (DSpace's `parameter.<name>`) has no OpenAPI form: the summary names it.
    query = [
        {"name": name, "in": "query", "required": name in REQUIRED_QUERY, "schema": schema or QUERY.get(name, _TEXT)}
        for name, schema in map(_query_entry, route.query) if "<" not in name
    ]
    # A route's own parameter objects replace the generated ones of the same name and place.
    own = {(p["name"], p["in"]): dict(p) for p in route.parameters}
    generated = [own.pop((p["name"], p["in"]), p) for p in path + query]
    return generated + list(own.values())


def _media(shape: Any, components: dict[str, Any]) -> dict[str, Any]:
    # A form model says how its parts are sent (a JSON part, a ZIP) as `openapi_encoding`.
    media: dict[str, Any] = {"schema": _schema(shape, components)}
    if encoding := getattr(shape, "openapi_encoding", None):
        media["encoding"] = encoding
    return media


def _operation(route: Route, components: dict[str, Any]) -> dict[str, Any]:
    problem = {"$ref": _REF.format(model="Problem")}
    operation: dict[str, Any] = {
        "summary": route.summary,
        "tags": [route.tag],
        "operationId": f"{route.tag}_{route.handler.__name__}",
        "parameters": _parameters(route),
        "responses": {},
    }
    if route.description:
        operation["description"] = route.description
    ok: dict[str, Any] = {"description": HTTPStatus(route.status).phrase}
    if route.response is not None:
        ok["content"] = {route.response_media: {"schema": _schema(route.response, components)}}
    operation["responses"][str(route.status)] = ok
    for status, schema in route.also:
        other: dict[str, Any] = {"description": HTTPStatus(status).phrase}
        if schema is not None:
            other["content"] = {"application/json": {"schema": _schema(schema, components)}}
        operation["responses"][str(status)] = other
    errors = set(route.errors) | ({401, 403} if route.role != "public" else set())
    for status in sorted(errors):
        operation["responses"][str(status)] = {
            "description": HTTPStatus(status).phrase,
            "content": {"application/problem+json": {"schema": problem}},
        }
    if route.body is not None:
        content = {media: _media(shape, components) for media, shape in ((route.body_media, route.body), *route.other_bodies)}
        operation["requestBody"] = {"required": route.body_required, "content": content}
    if route.role == "browser":  # a token, or none: a browser is sent to sign in (303)
        operation["security"] = [{}, {"bearer": []}]
        operation["x-role"] = "user"
    elif route.role != "public":
        operation["security"] = [{"bearer": []}]
        operation["x-role"] = route.role
    return operation


def _template(path: str) -> str:
    """A route's path as an OpenAPI template: its parameters' names without their patterns."""
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


def _same_url(operation: dict[str, Any], route: Route, path: str) -> None:
    """Give an operation the path parameter names of `path`, the spelling its URL has in the document.

    Two faces may spell one URL with different names (Concord's `/api/v1/process/{id}`, Hackney's
    `/api/v1/process/{processName}`). OpenAPI holds such templates to be the same path, and the router
    answers one `Allow` for the URL, so the document lists their methods under one path item.
    """
    names = dict(zip(_PARAM.findall(route.path), _PARAM.findall(path)))
    for parameter in operation["parameters"]:
        if parameter["in"] == "path" and names.get(parameter["name"], parameter["name"]) != parameter["name"]:
            own = parameter["name"]
            parameter["name"] = names[own]
            parameter["description"] = f"`{own}` in the {route.tag} face's route `{_template(route.path)}`"


def build_document(routes: Sequence[Route], version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document for a route table."""
    components: dict[str, Any] = {}
    _schema(Problem, components)
    paths: dict[str, dict[str, Any]] = {}
    spelling: dict[str, str] = {}  # a URL's shape (names left out) -> its path in the document
    taken: set[str] = set()
    for route in routes:
        path = spelling.setdefault(_PARAM.sub("{}", route.path), _template(route.path))
        operation = _operation(route, components)
        _same_url(operation, route, path)
        # Operation ids must be unique; a handler serving two routes gets a number on the later ones.
        base, n = operation["operationId"], 1
        while operation["operationId"] in taken:
            n += 1
            operation["operationId"] = f"{base}_{n}"
        taken.add(operation["operationId"])
        paths.setdefault(path, {})[route.method.lower()] = operation
    make_storable(paths, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": "procession", "version": version,
                 "description": "An event-sourced process service with five faces."},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def render_page(document: dict[str, Any]) -> str:
    """A plain server-rendered page listing every operation (no scripts, nothing fetched)."""
    rows = []
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            statuses = ", ".join(op["responses"])
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(op['summary'])}</td><td>{html.escape(op.get('x-role', 'public'))}</td>"
                f"<td>{statuses}</td></tr>"
            )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>procession API</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:.2em .6em;text-align:left}"
        "tr:nth-child(even){background:#f3f3f3}</style></head><body>"
        f"<h1>procession API {html.escape(document['info']['version'])}</h1>"
        "<p>The machine-readable document is at <a href='/api/openapi.json'>/api/openapi.json</a>.</p>"
        "<table><tr><th>method</th><th>path</th><th>summary</th><th>role</th><th>responses</th></tr>"
        + "".join(rows) + "</table></body></html>"
    )
