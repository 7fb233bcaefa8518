"""The rules a process configuration must satisfy before it becomes a version.

Pure and CPU-bound (a BPMN model is parsed): callers on an event loop run it in an executor.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from events.concord.compiler import is_concord
from events.cron import CronError, parse_cron
from events.errors import InvalidInput, MalformedInput
from events.flows.bpmn import WorkflowError
from events.workflow import compile_workflow, is_xml

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
# Deeper values cannot be serialised into an event (orjson stops at 254 levels).
MAX_DEPTH = 32


def check_key(key: str, field: str = "_id") -> str:
    """A definition key: 1-128 letters, digits, '_', '.' or '-', starting with a letter or digit."""
    if not _KEY.fullmatch(key) or key.isdigit():
        raise InvalidInput(
            f"invalid process key {key!r}",
            [f"{field}: must be 1-128 letters, digits, '_', '.' or '-' (not a bare number)"],
        )
    return key


def check_configuration(configuration: dict[str, Any], *, max_workflow_bytes: int) -> dict[str, Any]:
    """Validate a configuration; returns it unchanged, or raises naming every broken rule."""
    if problems := list(value_problems(configuration)):
        raise InvalidInput("the configuration holds values that cannot be stored", problems)
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
    if is_xml(workflow):  # a byte-order mark may come first
        try:
            # Compiling also checks every gateway condition (parse_bpmn alone does not).
            compile_workflow(configuration, max_bytes=max_workflow_bytes)
        except WorkflowError as e:
            raise InvalidInput(f"the BPMN workflow is not supported: {e.title}", [f"workflow: {p}" for p in e.problems]) from None
    elif isinstance(workflow, str):
        check_key(workflow.removeprefix("#"), "workflow")
    elif isinstance(workflow, dict) and is_concord(workflow):
        try:
            compile_workflow(configuration, max_bytes=max_workflow_bytes)
        except WorkflowError as e:
            raise InvalidInput(f"the Concord project is not supported: {e.title}", [f"workflow: {p}" for p in e.problems]) from None
    elif isinstance(workflow, dict):
        try:
            compile_workflow(configuration, max_bytes=max_workflow_bytes)
        except WorkflowError as e:
            raise InvalidInput(f"the state machine is not supported: {e.title}", [f"workflow: {p}" for p in e.problems]) from None
    return configuration


def value_problems(value: Any, path: str = "", depth: int = 0, *, max_depth: int | None = MAX_DEPTH) -> Iterator[str]:
    """NUL characters (which no text or JSON column can hold) and nesting beyond `max_depth` (None: any)."""
    if max_depth is not None and depth > max_depth:
        yield f"{path}: nested more than {max_depth} levels deep"
    elif isinstance(value, str) and "\x00" in value:
        yield f"{path}: contains a NUL character"
    elif isinstance(value, dict):
        for name, item in value.items():
            child = f"{path}.{name}" if path else str(name)
            if "\x00" in str(name):
                yield f"{path or 'body'}: a field name contains a NUL character"
            else:
                yield from value_problems(item, child, depth + 1, max_depth=max_depth)
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            yield from value_problems(item, f"{path}[{index}]", depth + 1, max_depth=max_depth)
