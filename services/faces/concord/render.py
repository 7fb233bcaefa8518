"""The Concord face's shapes: its paths, a process entry in Concord's words, and the portal's HTML page."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from events.concord.program import KIND_ATTRIBUTE, PARENT_ATTRIBUTE, PROFILES_ATTRIBUTE
from events.instance import ProcessInstance
from events.instance_state import InstanceStatus as S

BASE = "/api/v1/process"
PORTAL = "/api/service/process_portal"
_WORDS = {
    S.CREATED: "NEW", S.SCHEDULED: "ENQUEUED", S.RUNNING: "RUNNING", S.WAITING: "SUSPENDED",
    S.COMPLETED: "FINISHED", S.FAILED: "FAILED", S.STOPPED: "CANCELLED",
}


def status_word(instance: ProcessInstance) -> str:
    """The Concord status; a failure whose reason says it timed out is TIMED_OUT."""
    if instance.status is S.FAILED and "timed out" in (instance.failure or "").lower():
        return "TIMED_OUT"
    return _WORDS[instance.status]


def timestamp(moment: datetime | None) -> str | None:
    """The document's format: `2017-07-19T16:31:39.331+0000` (ISO 8601, milliseconds, UTC)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000" if moment else None


def entry(instance: ProcessInstance) -> dict[str, Any]:
    """`GET /api/v1/process/{id}`: the document's fields, then real Concord's ProcessEntry ones."""
    ended = instance.ended_at
    runtime_ms = int((ended - instance.started_at).total_seconds() * 1000) if ended and instance.started_at else None
    return {
        "instanceId": str(instance.id),
        "kind": instance.attributes.get(KIND_ATTRIBUTE) or "DEFAULT",  # FAILURE_HANDLER, ... for a handler's process
        "projectName": instance.definition_key,
        "repoName": str(instance.definition_version),
        "createdAt": timestamp(instance.created_on),
        "initiator": instance.initiator,
        "lastUpdatedAt": timestamp(instance.modified_on),
        "status": status_word(instance),
        "startAt": timestamp(instance.scheduled_for),
        "lastRunAt": timestamp(instance.started_at),
        "totalRuntimeMs": runtime_ms,
        "logFileName": f"{instance.id}.log",
        "currentElement": instance.current_task,
        "error": instance.failure,
        "meta": {"arguments": instance.parameters},
        # Recorded at start from the upload, `request.json` or the JSON start (comma-separated or a list).
        "activeProfiles": list(instance.attributes.get(PROFILES_ATTRIBUTE) or []),
        "parentInstanceId": instance.attributes.get(PARENT_ATTRIBUTE),
        "handlers": list((instance.concord or {}).get("handlers") or []) or None,
    }


def portal_page(instance: ProcessInstance, configuration: dict[str, Any], start_url: str) -> str:
    """A plain page: the definition's start form (its input parameters) and the process status."""
    e = html.escape
    fields = "".join(
        f"<p><label>{e(str(name))} <input name='{e(str(name))}' value='{e(_shown(instance.parameters.get(name, default)))}'>"
        f"</label></p>"
        for name, default in (configuration.get("input") or {}).items()
    ) or "<p>This process takes no parameters.</p>"
    task = f"<p>Waiting on: <b>{e(instance.current_task)}</b></p>" if instance.current_task else ""
    title = configuration.get("name") or instance.definition_key
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{e(str(title))}</title></head><body>"
        f"<h1>{e(str(title))}</h1><p>{e(str(configuration.get('description') or ''))}</p>"
        f"<h2>Process {e(str(instance.id))}</h2>"
        f"<p>Status: <b id='status'>{e(status_word(instance))}</b></p>{task}"
        f"<p>Started by {e(instance.initiator)} at {e(timestamp(instance.created_on) or '')}</p>"
        f"<h2>Start another</h2><form method='get' action='{e(start_url)}'>"
        f"<input type='hidden' name='entryPoint' value='{e(instance.definition_key)}'>{fields}"
        "<p><button type='submit'>Start</button></p></form></body></html>"
    )


def _shown(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else str(value)
