"""A Concord form the process waits on, as the portal shows it and as a browser posts it back.

The form is generated from the fields as they wait (`ProcessInstance.forms_waiting`, the same
shape the API's `GET /api/v1/process/{id}/form/{name}` answers): each field's type picks its
control (text, a whole or decimal number, a checkbox, a file, a list of allowed values as a
select or as checkboxes, free lists one value per line), its cardinality the mandatory mark,
and its checks (pattern, min, max) the control's hints. The browser does not validate
(`novalidate`): the submission goes through the same `SubmitForm` command as the API, whose
Concord messages are shown beside their fields, and a refused submission changes nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from events.instance import ProcessInstance
from events.instance_state import InstanceStatus
from services.faces.portal.access import who
from services.http.app_keys import RUNTIME
from services.instances.commands import ResumeEvent, SubmitForm

PREFIX = "cf."  # a field's control is named `cf.<field>`, so no field can collide with `csrf`
_REQUIRED = frozenset({"ONE_AND_ONLY_ONE", "AT_LEAST_ONE"})
_MANY = frozenset({"AT_LEAST_ONE", "ANY"})


@dataclass(frozen=True)
class FieldView:
    """One field as the portal draws it: the control (`widget`) and what it shows."""

    name: str
    label: str
    type: str
    cardinality: str
    widget: str  # text, number, checkbox, select, checkboxes, lines, file
    required: bool
    readonly: bool
    value: Any  # text for a single control, a list for checkboxes and lines, a bool for a checkbox
    allowed: list[Any] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)  # pattern, min, max, placeholder

    @property
    def control(self) -> str:
        """The name the control posts under."""
        return PREFIX + self.name


@dataclass(frozen=True)
class FormView:
    """The waiting form: its name and fields in order."""

    name: str
    fields: list[FieldView]


def _widget(f: dict[str, Any], many: bool, allowed: list[Any]) -> str:
    kind = f.get("type")
    if kind == "file":
        return "file"
    if allowed:
        return "checkboxes" if many else "select"
    if many:
        return "lines"
    return {"boolean": "checkbox", "int": "number", "decimal": "number"}.get(str(kind), "text")


def _shown(widget: str, value: Any) -> Any:
    if widget in ("checkboxes", "lines"):
        return [] if value is None else [_text(v) for v in (value if isinstance(value, list) else [value])]
    if widget == "checkbox":
        return value is True or (isinstance(value, str) and value.lower() == "true")
    return "" if value is None else _text(value[0] if isinstance(value, list) and value else value)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def waiting_form(instance: ProcessInstance, posted: dict[str, Any] | None = None) -> FormView | None:
    """The first form the process waits on (a Concord flow waits on one at a time), or None.

    `posted` are the values a refused submission carried: they are shown again, so a person
    corrects one field instead of typing the form anew.
    """
    if instance.status is not InstanceStatus.WAITING or not instance.forms_waiting:
        return None
    name, waiting = next(iter(instance.forms_waiting.items()))
    fields = []
    for f in waiting["fields"]:
        cardinality = str(f.get("cardinality") or "ONE_AND_ONLY_ONE")
        allowed = f.get("allowedValue")
        allowed = [] if allowed is None else allowed if isinstance(allowed, list) else [allowed]
        widget = _widget(f, cardinality in _MANY, allowed)
        options = dict(f.get("options") or {})
        readonly = bool(options.pop("readOnly", False))
        value = f.get("value") if posted is None or readonly or f["name"] not in posted else posted[f["name"]]
        fields.append(FieldView(
            name=f["name"], label=f.get("label") or f["name"], type=str(f.get("type")), cardinality=cardinality,
            widget=widget, required=cardinality in _REQUIRED, readonly=readonly, value=_shown(widget, value),
            allowed=[_text(a) for a in allowed], options=options,
        ))
    return FormView(name, fields)


def waiting_event(instance: ProcessInstance) -> str | None:
    """The event a `suspend` step waits for, or None."""
    wait = (instance.paused or {}).get("wait") or {}
    if instance.status is InstanceStatus.WAITING and wait.get("kind") == "event":
        return str(wait.get("event"))
    return None


def _posted(form: FormView, posted: MultiDictProxy[Any]) -> dict[str, Any]:
    """What each control posted, as the API takes it: empty controls are left out (no value)."""
    values: dict[str, Any] = {}
    for f in form.fields:
        if f.readonly or f.widget == "file":
            continue
        raw = [v for v in posted.getall(f.control, []) if isinstance(v, str)]
        if f.widget == "checkbox":
            # An unticked box posts nothing; for Concord it is a value, false.
            values[f.name] = "true" if raw else "false"
        elif f.widget == "lines":
            items = [line.strip() for text in raw for line in text.splitlines() if line.strip()]
            if items:
                values[f.name] = items
        elif f.widget == "checkboxes":
            if raw:
                values[f.name] = raw
        elif raw and raw[0].strip():
            values[f.name] = raw[0].strip() if f.type != "string" else raw[0]
    return values


async def submit(request: web.Request, instance: ProcessInstance, form: FormView) -> tuple[dict[str, str], dict[str, Any]]:
    """Submit the posted form; the errors by field (empty: accepted) and the values posted."""
    posted = await request.post()
    values = _posted(form, posted)
    files: dict[str, bytes] = {}
    for f in form.fields:
        upload = posted.get(f.control)
        if f.widget == "file" and isinstance(upload, web.FileField) and upload.filename:
            files[f.name] = await asyncio.to_thread(upload.file.read)
    command = SubmitForm(str(instance.id), form.name, values, files)
    outcome = await request.app[RUNTIME].concord_forms.submit(who(request), command)
    return outcome.errors, values


async def resume(request: web.Request, instance: ProcessInstance, event: str) -> None:
    """Resume the `suspend` step waiting for the event."""
    await request.app[RUNTIME].concord_forms.resume(who(request), ResumeEvent(str(instance.id), event))
