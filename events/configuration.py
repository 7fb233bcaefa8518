"""The rules a process configuration must satisfy before it becomes a version.

Pure and CPU-bound (a BPMN model is parsed): callers on an event loop run it in an executor.
"""

from __future__ import annotations

import re
from typing import Any

from events.bpmn import WorkflowError, parse_bpmn
from events.cron import CronError, parse_cron
from events.errors import InvalidInput, MalformedInput

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def check_key(key: str, field: str = "_id") -> str:
    """A definition key: 1-128 letters, digits, '_', '.' or '-', starting with a letter or digit."""
    if not _KEY.match(key) or key.isdigit():
        raise InvalidInput(
            f"invalid process key {key!r}",
            [f"{field}: must be 1-128 letters, digits, '_', '.' or '-' (not a bare number)"],
        )
    return key


def check_configuration(configuration: dict[str, Any], *, max_workflow_bytes: int) -> dict[str, Any]:
    """Validate a configuration; returns it unchanged, or raises naming every broken rule."""
    has_script = bool(configuration.get("script"))
    has_workflow = bool(configuration.get("workflow"))
    if has_script == has_workflow:
        raise InvalidInput(
            "a process runs exactly one of a script or a workflow",
            ["script/workflow: exactly one of them must be given"],
        )
    if (cron := configuration.get("cron")) is not None:
        try:
            parse_cron(cron)
        except CronError as e:
            raise MalformedInput(f"invalid cron expression {cron!r}: {e}", [f"cron: {e}"]) from None
    workflow = configuration.get("workflow")
    if isinstance(workflow, str) and workflow.lstrip().startswith("<"):
        try:
            parse_bpmn(workflow, max_bytes=max_workflow_bytes)
        except WorkflowError as e:
            raise InvalidInput(f"the BPMN workflow is not supported: {e.title}", [f"workflow: {p}" for p in e.problems]) from None
    elif isinstance(workflow, str):
        check_key(workflow.removeprefix("#"), "workflow")
    elif isinstance(workflow, dict):
        states = workflow.get("states")
        if not isinstance(states, dict) or not states:
            raise InvalidInput("a state machine workflow needs states", ["workflow.states: a non-empty object is required"])
    return configuration
