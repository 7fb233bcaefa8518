"""The current task's form, submitted: form data, documents and a reassignment, then a trigger or a choice.

A state machine's task is left by one of its triggers, in the same command as the data it
carries (so a refused trigger changes nothing); a BPMN task by choosing the next element
(a gateway's choice) and, where the task declares them, an action.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from events.errors import DomainError
from events.instance import ProcessInstance
from services.faces.portal.access import who
from services.http.app_keys import RUNTIME
from services.instances.commands import MoveOn, UpdateInstance

PAIRS = 3  # free name/value rows the form offers besides the fields the task requires


def form_data(form: MultiDictProxy[Any]) -> dict[str, Any]:
    """The fields the task named (`field.<name>`) and the free rows (`fd_name_<n>`, `fd_value_<n>`)."""
    data: dict[str, Any] = {}
    for key, value in form.items():
        if key.startswith("field.") and isinstance(value, str) and value != "":
            data[key.removeprefix("field.")] = value
    for n in range(PAIRS):
        name, value = form.get(f"fd_name_{n}"), form.get(f"fd_value_{n}")
        if isinstance(name, str) and name.strip() and isinstance(value, str):
            data[name.strip()] = value
    return data


async def _documents(request: web.Request, form: MultiDictProxy[Any]) -> list[str]:
    names = []
    for upload in form.getall("documents", []):
        if isinstance(upload, web.FileField) and upload.filename:
            blob = await request.app[RUNTIME].blobs.put_bytes(await asyncio.to_thread(upload.file.read))
            # The reference names the file and where its content is kept.
            names.append(f"{upload.filename} (sha256:{blob.sha256})")
    return names


async def submit(request: web.Request, instance: ProcessInstance) -> list[str]:
    """Carry out the form; the problems (empty when it went through) to show beside it."""
    form = await request.post()
    runtime, principal, instance_id = request.app[RUNTIME], who(request), str(instance.id)
    data = form_data(form)
    assignee = form.get("assignee")
    assignment = {"type": "user", "value": assignee.strip()} if isinstance(assignee, str) and assignee.strip() else None
    trigger, target, move = form.get("trigger"), form.get("target"), form.get("move")
    try:
        documents = await _documents(request, form)
        if isinstance(trigger, str) and trigger:
            await runtime.instances.update(principal, UpdateInstance(
                instance_id, trigger=trigger, form_data=data or None, documents=tuple(documents) or None, assignment=assignment))
            return []
        if data or documents or assignment:
            await runtime.instances.update(principal, UpdateInstance(
                instance_id, form_data=data or None, documents=tuple(documents) or None, assignment=assignment))
        if isinstance(move, str):
            chosen = target if isinstance(target, str) and target else None
            await runtime.instances.next(principal, MoveOn(instance_id, chosen, move or None))
        elif not (data or documents or assignment):
            return ["Choose what to do: one of the buttons, or a next step."]
    except DomainError as e:
        return [e.detail, *(getattr(e, "problems", None) or [])]
    return []
