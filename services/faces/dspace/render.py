"""DSpace's HAL shapes: processes, scripts, files, and the `page` block with its links."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from services.common.times import iso_z as iso
from services.common.user_ids import user_uuid
from services.scripts.queries import ProcessSummary
from services.scripts.descriptor import ScriptDescriptor
from services.scripts.registry import ScriptRegistry

PROCESSES = "/api/system/processes"
SCRIPTS = "/api/system/scripts"
# Internal status -> the document's closed set (RUNNING, STOPPED, FAILED, SCHEDULED): a run that
# ended normally and one stopped by a user are both STOPPED (docs/faces.md).
STATUS = {"created": "SCHEDULED", "scheduled": "SCHEDULED", "running": "RUNNING", "waiting": "RUNNING",
          "completed": "STOPPED", "failed": "FAILED", "stopped": "STOPPED"}
# DSpace 7's `processStatus` keeps its own word for a normal end, so its clients can tell the two apart.
PROCESS_STATUS = {**STATUS, "completed": "COMPLETED"}
WORDS: dict[str, tuple[str, ...]] = {}
for _internal, _word in STATUS.items():
    WORDS[_word] = (*WORDS.get(_word, ()), _internal)
WORDS["COMPLETED"] = WORDS["STOPPED"]  # a filter synonym for DSpace 7 clients


def parameters(registry: ScriptRegistry, script: str, values: dict[str, Any],
               sent: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Stored values as DSpace's `[{name, value}]`, named as they were sent (else as the script declares them)."""
    descriptor = registry.scripts.get(script)
    sent = sent or {}
    rendered = []
    for key, value in values.items():
        p = descriptor.parameter(key) if descriptor else None
        text = ("true" if value else "false") if isinstance(value, bool) else value if isinstance(value, str) else str(value)
        rendered.append({"name": sent.get(key) or (p.name if p else key), "value": text})
    return rendered


def process(row: ProcessSummary, registry: ScriptRegistry) -> dict[str, Any]:
    """One process from its `process_view` row: the seed's fields and the real ones."""
    pid = str(row.instance_id)
    href = f"{PROCESSES}/{pid}"
    script = row.script or row.definition_key
    links: dict[str, Any] = {"self": {"href": href}}
    if row.script is not None and row.script in registry.scripts:  # only a process that ran a registered script
        links["script"] = {"href": f"{SCRIPTS}/{quote(row.script, safe='')}"}
    links |= {"output": {"href": f"{href}/output"}, "files": {"href": f"{href}/files"}}
    return {
        "id": pid, "processId": pid, "userId": user_uuid(row.initiator), "scriptName": script,
        "startTime": iso(row.started_at or row.scheduled_for), "endTime": iso(row.ended_at),
        "creationTime": iso(row.created_at), "status": STATUS[row.status], "processStatus": PROCESS_STATUS[row.status],
        "parameters": parameters(registry, script, row.parameters, row.parameter_names), "type": "process",
        "_links": links,
    }


def script(descriptor: ScriptDescriptor) -> dict[str, Any]:
    """One script with its parameters in DSpace's shape."""
    return {
        "id": descriptor.name, "name": descriptor.name, "description": descriptor.description, "type": "script",
        "parameters": [
            {"name": p.name, "nameLong": p.name_long, "description": p.description, "type": p.type, "mandatory": p.mandatory}
            for p in descriptor.parameters
        ],
        "_links": {"self": {"href": f"{SCRIPTS}/{descriptor.name}"}, "processes": {"href": f"{SCRIPTS}/{descriptor.name}/processes"}},
    }


def files(pid: str, listed: list[dict[str, Any]]) -> dict[str, Any]:
    """A process's files: the seed's `_links` by name, and each file embedded (DSpace's bitstream fields)."""
    href = f"{PROCESSES}/{pid}/files"
    embedded = [
        {"name": f["name"], "sizeBytes": f["size"], "mediaType": f["mediaType"],
         "fileType": "inputfile" if f["kind"] == "input" else "script_output",
         "checkSum": {"checkSumAlgorithm": "SHA-256", "value": f["sha256"]},
         "_links": {"content": {"href": f"{href}/{quote(f['name'], safe='')}"}}}
        for f in listed
    ]
    # Names are percent-encoded in hrefs (a name may hold '/', '?', '#', spaces...).
    links = {"self": {"href": href}, **{f["name"]: {"href": f"{href}/{quote(f['name'], safe='')}"} for f in listed}}
    return {"processId": pid, "_embedded": {"files": embedded}, "_links": links,
            "page": {"size": len(listed), "totalElements": len(listed), "totalPages": 1, "number": 0}}


def page(request: web.Request, name: str, items: list[dict[str, Any]], *, number: int, size: int, total: int,
         sort: tuple[str, bool] | None = None) -> dict[str, Any]:
    """A HAL page: `_embedded.<name>`, `page{size,totalElements,totalPages,number}`, navigation links,
    and the document's top-level `sort{by, order}` when the list is sorted."""
    pages = (total + size - 1) // size

    def link(n: int) -> dict[str, str]:
        query = {k: v for k, v in request.query.items() if k not in ("page", "size")}
        return {"href": f"{request.path}?{urlencode({**query, 'page': n, 'size': size})}"}

    links: dict[str, Any] = {"self": link(number)}
    if pages:
        links["first"], links["last"] = link(0), link(pages - 1)
    if number > 0:
        links["prev"] = link(min(number - 1, max(pages - 1, 0)))
    if number + 1 < pages:
        links["next"] = link(number + 1)
    body: dict[str, Any] = {"_embedded": {name: items}, "_links": links,
                            "page": {"size": size, "totalElements": total, "totalPages": pages, "number": number}}
    if sort is not None:
        body["sort"] = {"by": sort[0], "order": "desc" if sort[1] else "asc"}
    return body
