"""Definitions: the list, one definition (versions, tags, schedule) and its generated start form."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from events.errors import DomainError
from events.workflow import compile_workflow
from services.faces.portal import definition_admin, diagram
from services.faces.portal.access import who
from services.faces.portal.render import page
from services.faces.portal.security import Refused
from services.definitions.models import DefinitionQuery
from services.http.app_keys import RUNTIME
from services.scripts.commands import StartProcess


@dataclass(frozen=True)
class StartField:
    """One field of a start form."""

    name: str
    label: str
    type: str  # string, integer, boolean, date, file, output
    mandatory: bool
    default: str
    description: str


def start_fields(runtime: Any, configuration: dict[str, Any]) -> list[StartField]:
    """The start form: the script's parameters (typed, mandatory marked), else the `input` defaults."""
    defaults = configuration.get("input") if isinstance(configuration.get("input"), dict) else {}
    script = configuration.get("script")
    if isinstance(script, str) and script:
        descriptor = runtime.registry.get(script)
        return [
            StartField(p.key, p.name_long or p.name, p.type, p.mandatory, _shown(defaults.get(p.key)), p.description)
            for p in descriptor.parameters
        ]
    return [StartField(str(k), str(k), _type_of(v), False, _shown(v), "") for k, v in defaults.items()]


def _shown(value: Any) -> str:
    return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _type_of(value: Any) -> str:
    return "boolean" if isinstance(value, bool) else "integer" if isinstance(value, int) else "string"


async def list_page(request: web.Request) -> web.Response:
    """`GET /ui/definitions`."""
    rows = await request.app[RUNTIME].definition_views.list(DefinitionQuery(limit=500))
    return page(request, "definitions.html", {"rows": rows})


async def _definition(request: web.Request, key: str) -> dict[str, Any]:
    runtime = request.app[RUNTIME]
    current, etag = await runtime.definition_views.current(key)
    configuration = current.configuration
    return {"key": key, "d": current, "configuration": configuration, "etag": etag,
            "versions": await runtime.definition_views.versions(key),
            "fields": start_fields(runtime, configuration),
            "diff": await definition_admin.diff(request, key), "schedule": definition_admin.schedule(configuration),
            "done": request.query.get("done", ""), "drawing": await _drawing(configuration)}


async def _drawing(configuration: dict[str, Any]) -> dict[str, Any] | None:
    """The definition's flow drawn (None for a workflow that does not compile on its own, e.g. a `#key` reference)."""
    def draw() -> diagram.Diagram | None:
        try:
            return diagram.diagram(configuration, compile_workflow(configuration))
        except ValueError:
            return None

    drawn = await asyncio.get_running_loop().run_in_executor(None, draw)
    return {"d": drawn, "marks": {}} if drawn else None


async def definition_page(request: web.Request) -> web.Response:
    """`GET /ui/definitions/{key}`."""
    context = await _definition(request, request.match_info["key"])
    return page(request, "definition.html", {**context, "errors": {}, "general": [], "values": {}})


def _field_of(problem: str, fields: list[StartField]) -> str | None:
    name = problem.split(":", 1)[0].strip().lstrip("-")
    for f in fields:
        if name in (f.name, f.label.lstrip("-")) or f.label.lstrip("-").startswith(name) and len(name) == 1:
            return f.name
    return None


async def start(request: web.Request) -> web.StreamResponse:
    """`POST /ui/definitions/{key}/start`: start (or schedule) from the generated form."""
    key = request.match_info["key"]
    context = await _definition(request, key)
    fields: list[StartField] = context["fields"]
    form = await request.post()
    arguments: dict[str, Any] = {}
    files: dict[str, bytes] = {}
    for f in fields:
        value = form.get(f"param.{f.name}")
        if f.type == "file":
            if isinstance(value, web.FileField) and value.filename:
                files[value.filename] = value.file.read()
                arguments[f.name] = value.filename
        elif f.type == "boolean":
            arguments[f.name] = value == "true"
        elif isinstance(value, str) and value != "":
            arguments[f.name] = int(value) if f.type == "integer" and _is_int(value) and not context["configuration"].get("script") else value
    start_at = _start_time(form.get("startTime"))
    try:
        result = await request.app[RUNTIME].scripts.start(
            who(request), StartProcess(definition=key, arguments=arguments, files=files, start_at=start_at),
        )
    except DomainError as e:
        problems = [*(getattr(e, "problems", None) or [])] or [e.detail]
        errors: dict[str, list[str]] = {}
        general = []
        for p in problems:
            name = _field_of(p, fields)
            if name:
                errors.setdefault(name, []).append(p)
            else:
                general.append(p)
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        return page(request, "definition.html", {**context, "errors": errors, "general": general or ([] if errors else [e.detail]),
                                                 "values": values}, status=422)
    raise web.HTTPSeeOther(f"/ui/processes/{result.id}")


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


def _start_time(raw: Any) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise Refused(400, f"startTime must be a date and time, got {raw[:40]!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
