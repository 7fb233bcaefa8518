"""Altinn's BPMN extensions, read into the engine's neutral words.

Altinn apps annotate tasks with `altinn:taskExtension` (v8) or older `altinn:properties`,
`altinn:tasktype` and `altinn:flowtype` forms. This reader is the one place that knows those
names: it gives a task its type, its simple settings (`actions` as a comma-separated list)
and the action a caller means when naming none; a flow its type. The engine only sees those.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

# Altinn files use both "http://altinn.no" (older) and "http://altinn.no/process".
_ALTINN_NS = "http://altinn.no"

# The action Altinn's process engine assumes for `next` when the caller names none (v8).
_DEFAULT_ACTIONS = {
    "data": "write", "feedback": "write", "pdf": "write", "eFormidling": "write", "fiksArkiv": "write",
    "confirmation": "confirm", "signing": "sign", "payment": "pay",
}


# Task types whose task cannot be left until data is delivered to it (the engine's `awaitsDelivery`):
# a feedback task waits while an outside party uploads its answer.
_AWAITS_DELIVERY = frozenset({"feedback"})


@dataclass(frozen=True)
class TaskSettings:
    """What the extensions say about one task."""

    task_type: str | None = None
    extensions: dict[str, str] = field(default_factory=dict)

    @property
    def default_action(self) -> str | None:
        """The action moving on from this task means when none is named."""
        return _DEFAULT_ACTIONS.get(self.task_type or "")


def task_settings(el: Element, ext: Element | None) -> TaskSettings:
    """Task type and simple settings of an element, from its `extensionElements` (`ext`). The
    taskExtension element (v8) wins over the legacy v7 attribute; nested config blocks are skipped."""
    task_type: str | None = None
    values: dict[str, str] = {}
    containers = [c for c in _elements(ext) if is_extension(c)] if ext is not None else []
    for item in (i for c in containers for i in _elements(c)):
        key, text = _local(item), (item.text or "").strip()
        if key.lower() == "tasktype":
            # Old files write <altinn:tasktype id="data"/>.
            task_type = text or item.get("id") or task_type
        elif key == "actions":
            names = [(a.text or "").strip() or a.get("id", "") for a in _elements(item)]
            values[key] = ",".join(n for n in names if n)
        elif len(item) == 0 and text:
            values[key] = text
    task_type = task_type or _attribute(el, "tasktype")
    if task_type in _AWAITS_DELIVERY:
        values.setdefault("awaitsDelivery", "true")
    return TaskSettings(task_type, values)


def flow_type(el: Element) -> str | None:
    """A sequence flow's type (`flowtype`), if the file gives one."""
    return _attribute(el, "flowtype")


def is_extension(el: Element) -> bool:
    """Whether an element is one of the extensions this reader understands."""
    ns = el.tag[1:].split("}", 1)[0] if el.tag.startswith("{") else ""
    return ns == _ALTINN_NS or ns.startswith(f"{_ALTINN_NS}/")


def _attribute(el: Element, name: str) -> str | None:
    # Altinn spells these attributes in varying case (tasktype, flowtype).
    for attr, value in el.attrib.items():
        ns, _, local = attr[1:].partition("}") if attr.startswith("{") else ("", "", attr)
        if (ns == _ALTINN_NS or ns.startswith(f"{_ALTINN_NS}/")) and local.lower() == name:
            return value
    return None


def _elements(el: Element) -> list[Element]:
    # Comments and processing instructions have non-str tags; they carry nothing.
    return [c for c in el if isinstance(c.tag, str)]


def _local(el: Element) -> str:
    return el.tag.rsplit("}", 1)[-1]
