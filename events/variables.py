"""Process variables: the dotted-key assignment (`a.b.c = v`) recorded sets are replayed with.

Invariant: a set never changes the data it was given (nested mappings are copied on the way
down), so a recorded event's values and the state before it stay as they were.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["NotAMapping", "set_path", "with_path"]


class NotAMapping(ValueError):
    """A dotted key runs through a value that is not a mapping."""


def set_path(variables: dict[str, Any], key: str, value: Any) -> None:
    """Apply one recorded `set` (dotted key) to process variables, in place."""
    head, *rest = key.split(".")
    variables[head] = with_path(copy.deepcopy(variables.get(head)), rest, value, key) if rest else value


def with_path(current: Any, path: list[str], value: Any, key: str) -> Any:
    """`current` with `value` at `path` inside it (a copy; None grows into a mapping); NotAMapping otherwise."""
    if not path:
        return value
    if current is None:
        current = {}
    if not isinstance(current, dict):
        raise NotAMapping(f"cannot set '{key}': '{key.split('.')[0]}' is not a mapping")
    out = dict(current)
    out[path[0]] = with_path(out.get(path[0]), path[1:], value, key)
    return out
