"""One process: status, parameters, timing, timeline, live log, files, actions and the current task's form."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

from events.concord.program import KIND_ATTRIBUTE, PARENT_ATTRIBUTE
from events.errors import DomainError
from events.flows.engine import next_steps, permitted_triggers
from events.instance import ProcessInstance, line_time
from events.instance_state import InstanceStatus
from services.faces.portal import concord_form, diagram
from services.faces.portal.access import visible_instance, who
from services.faces.portal.render import page
from services.faces.portal.task_forms import submit
from services.http import sse
from services.http.app_keys import RUNTIME
from services.instances.commands import DeleteInstance
from services.scripts.commands import RetryProcess, StopProcess

_HIDDEN = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})


@dataclass(frozen=True)
class HistoryEntry:
    """One event of the timeline: its version, type, time, author (if it names one) and data."""

    version: int
    type: str
    timestamp: datetime
    user: str | None
    data: dict[str, Any]


async def history(request: web.Request, instance: ProcessInstance, after: int = 0, *,
                  upto: int | None = None) -> list[HistoryEntry]:
    """The instance's events after a version (and up to `upto`), as the timeline and the live stream show them."""
    entries = []
    events = await request.app[RUNTIME].instances.events(instance.id, after, 10_000)
    for event in (e for e in events if upto is None or e.originator_version <= upto):
        data = {k: v for k, v in vars(event).items() if k not in _HIDDEN}
        entries.append(HistoryEntry(event.originator_version, type(event).__qualname__.split(".")[-1],
                                    event.timestamp, data.get("user"), data))
    return entries


def log_lines(entry: HistoryEntry) -> list[dict[str, Any]]:
    """The console lines an event carries (none unless it is OutputAppended), as the page shows them."""
    if entry.type != "OutputAppended":
        return []
    return [{"time": when or line_time(entry.timestamp), "stream": stream, "line": text}
            for when, stream, text in entry.data["lines"]]


TAIL_DEFAULT = 200


async def task_form(request: web.Request, instance: ProcessInstance) -> dict[str, Any] | None:
    """What the current task asks for: triggers (state machines) or the reachable next elements and actions (BPMN)."""
    if instance.status.value != "waiting" or not instance.element or instance.concord is not None:
        return None  # a Concord flow waits on its own forms and events (concord_form)
    graph = await request.app[RUNTIME].instances.graph_of(instance)
    node = graph.node(instance.element)
    triggers = permitted_triggers(graph, instance.element)
    choices = [] if triggers else [s.target for s in next_steps(graph, instance.element, instance.facts())]
    required = node.extensions.get("requiredFormData", "")
    actions = [a for a in node.extensions.get("actions", "").split(",") if a]
    return {
        "element": instance.element, "name": node.name or instance.element, "task_type": node.task_type,
        "triggers": triggers, "choices": [(c, graph.node(c).name or c) for c in choices], "actions": actions,
        "required": [] if required == "*" else [f for f in required.split(",") if f], "any_form_data": required == "*",
        "documents": node.extensions.get("requiredDocuments"),
    }


async def drawing(request: web.Request, instance: ProcessInstance, timeline: list[HistoryEntry]) -> dict[str, Any] | None:
    """The instance's diagram with its passed, current and failed elements marked (None if it has no flow)."""
    runtime = request.app[RUNTIME]
    try:
        graph = await runtime.instances.graph_of(instance)
        ref = instance.attributes.get("workflow") or {"definitionId": instance.definition_id,
                                                      "version": instance.definition_version}
        configuration = await runtime.models.configuration(str(ref["definitionId"]), int(ref["version"]))
    except (DomainError, ValueError):  # a flow that no longer compiles is shown without its diagram
        return None
    drawn = await asyncio.get_running_loop().run_in_executor(None, diagram.diagram, configuration, graph)
    if drawn is None:
        return None
    via = {v for e in timeline for v in (e.data.get("via") or []) if isinstance(v, str)}
    return {"d": drawn, "marks": diagram.marks(instance, via)}


async def _context(request: web.Request, instance: ProcessInstance, *, errors: list[str] | None = None,
                   field_errors: dict[str, str] | None = None, posted: dict[str, Any] | None = None) -> dict[str, Any]:
    output = request.app[RUNTIME].output
    # One moment: the events up to the instance as loaded, and the live stream right after it.
    # (Events read past it would be shown beside a stale status and never streamed: a Stop
    # landing mid-render left the page on "running".)
    timeline = await history(request, instance, upto=instance.version)
    tail = request.query.get("tail", "")
    lines = [line for entry in timeline for line in log_lines(entry)]
    shown = lines[-int(tail):] if tail.isdigit() and int(tail) > 0 else lines
    files = [*await output.input_files(instance.id), *await output.output_files(instance.id)]
    principal = who(request)
    return {
        "i": instance, "history": timeline, "lines": shown, "hidden_lines": len(lines) - len(shown),
        "files": files, "task": await task_form(request, instance), "errors": errors or [],
        "form": concord_form.waiting_form(instance, posted), "event": concord_form.waiting_event(instance),
        "field_errors": field_errors or {},
        "can_delete": principal.is_admin or instance.initiator == principal.user,
        "can_retry": instance.status is InstanceStatus.FAILED and "script" in instance.attributes,
        "duration": (instance.ended_at - instance.started_at) if instance.ended_at and instance.started_at else None,
        "last_version": instance.version,
        # A Concord handler's process and the process it ran for link to each other.
        "parent": instance.attributes.get(PARENT_ATTRIBUTE), "kind": instance.attributes.get(KIND_ATTRIBUTE),
        "children": await request.app[RUNTIME].instance_views.children(principal, instance.id),
        "drawing": await drawing(request, instance, timeline),
    }


async def process_page(request: web.Request) -> web.Response:
    """`GET /ui/processes/{id}`."""
    instance = await visible_instance(request)
    return page(request, "process.html", await _context(request, instance))


async def summary(request: web.Request) -> web.Response:
    """`GET /ui/processes/{id}/summary`: the status, facts, actions and timeline (the live refresh)."""
    instance = await visible_instance(request)
    return page(request, "process_summary.html", await _context(request, instance))


async def live(request: web.Request) -> web.StreamResponse:
    """`GET /ui/processes/{id}/live?after=<version>`: new log lines (`line`) and other changes (`refresh`)."""
    instance = await visible_instance(request)
    runtime = request.app[RUNTIME]
    after = sse.resume_point(request)

    async def fetch(version: int) -> list[sse.Item]:
        items: list[sse.Item] = []
        for entry in await history(request, instance, version):
            if entry.type == "OutputAppended":
                items.extend((entry.version, "line", orjson.dumps(line)) for line in log_lines(entry))
            else:
                items.append((entry.version, "refresh", orjson.dumps({"type": entry.type})))
        return items

    return await sse.stream(request, runtime.instances.append_signal, after, fetch)


async def log_text(request: web.Request) -> web.Response:
    """`GET /ui/processes/{id}/log.txt`: the whole log, as a download."""
    instance = await visible_instance(request)
    body = await request.app[RUNTIME].output.console_log(instance.id)
    return web.Response(body=body, content_type="text/plain", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{instance.id}.log"'})


async def download(request: web.Request) -> web.StreamResponse:
    """`GET /ui/processes/{id}/files/{name}`: one input or output file."""
    instance = await visible_instance(request)
    path, info = await request.app[RUNTIME].output.read_file(instance.id, request.match_info["name"])
    filename = info["name"].rsplit("/", 1)[-1].replace('"', "")
    return web.FileResponse(path, headers={"Content-Disposition": f'attachment; filename="{filename}"',
                                           "Content-Type": "application/octet-stream"})


def _redirect(instance_id: Any, note: str = "") -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/ui/processes/{instance_id}" + (f"?done={note}" if note else ""))


async def stop(request: web.Request) -> web.StreamResponse:
    """`POST /ui/processes/{id}/stop`: stop it (a running script is killed)."""
    instance = await visible_instance(request)
    if not instance.status.finished:
        await request.app[RUNTIME].scripts.stop(who(request), StopProcess(str(instance.id)))
    raise _redirect(instance.id, "stopped")


async def retry(request: web.Request) -> web.StreamResponse:
    """`POST /ui/processes/{id}/retry`: a failed script run, again, as a new run; its page follows."""
    instance = await visible_instance(request)
    again = await request.app[RUNTIME].scripts.retry(who(request), RetryProcess(str(instance.id)))
    raise web.HTTPSeeOther(f"/ui/processes/{again.id}")


async def delete(request: web.Request) -> web.StreamResponse:
    """`POST /ui/processes/{id}/delete`: delete it (the history stays in the event log)."""
    instance = await visible_instance(request)
    reason = f"deleted by {who(request).user} in the portal"
    await request.app[RUNTIME].instances.delete(who(request), DeleteInstance(str(instance.id), reason))
    raise web.HTTPSeeOther("/ui/processes")


async def _again(request: web.Request, instance_id: Any, status: int, errors: list[str], **shown: Any) -> web.Response:
    """The process page as it now stands, saying why nothing was changed."""
    instance = await visible_instance(request, str(instance_id))
    return page(request, "process.html", await _context(request, instance, errors=errors, **shown), status=status)


async def submit_form(request: web.Request) -> web.StreamResponse:
    """`POST /ui/processes/{id}/form`: submit the Concord form it waits on; a refused one is shown again, unchanged."""
    instance = await visible_instance(request)
    form = concord_form.waiting_form(instance)
    if form is None:
        return await _again(request, instance.id, 409, ["The process no longer waits on a form."])
    field_errors, posted = await concord_form.submit(request, instance, form)
    if field_errors:
        return await _again(request, instance.id, 422, list(field_errors.values()), field_errors=field_errors, posted=posted)
    raise _redirect(instance.id)


async def resume(request: web.Request) -> web.StreamResponse:
    """`POST /ui/processes/{id}/resume`: resume the Concord `suspend` step it waits in."""
    instance = await visible_instance(request)
    event = concord_form.waiting_event(instance)
    if event is None:
        return await _again(request, instance.id, 409, ["The process no longer waits for an event."])
    await concord_form.resume(request, instance, event)
    raise _redirect(instance.id)


async def act(request: web.Request) -> web.StreamResponse:
    """`POST /ui/processes/{id}/task`: submit the current task's form (data, documents, then a trigger or a choice)."""
    instance = await visible_instance(request)
    problems = await submit(request, instance)
    if problems:
        return await _again(request, instance.id, 422, problems)
    raise _redirect(instance.id)

