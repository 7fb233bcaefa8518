"""Altinn's JSON expressions (`["equals", ["dataModel", "a.b"], "x"]`): a dialect of `events.expressions`.

Invariant: an expression is a JSON list walked here, never evaluated as code; only the
functions below exist, and Altinn's rules hold: values compare as strings, null equals only null.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ACTION", "FORM_DATA", "ExpressionError", "evaluate", "problems", "truthy"]

# The names a condition sees that these functions read (events/expressions/__init__.py builds them).
FORM_DATA, ACTION = "formData", "action"


class ExpressionError(ValueError):
    """A JSON expression that cannot be evaluated (an unknown function, a non-number compared)."""


def _lookup(data: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(data, Mapping) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def _data_model(names: Mapping[str, Any], path: str) -> Any:
    # Altinn paths are rooted at the data model ("model.ShouldDoubleSign"); our form data
    # may hold the model under that root or flat, so try the full path, then without the root.
    form_data = names.get(FORM_DATA) or {}
    found = _lookup(form_data, path)
    if found is None and "." in path:
        found = _lookup(form_data, path.split(".", 1)[1])
    return found


def _as_text(value: Any) -> str | None:
    # Altinn compares values as strings: true == "true", 1 == "1", null only equals null.
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _number(value: Any) -> float:
    if isinstance(value, bool) or value is None:
        raise ExpressionError("not a number")
    return float(value)


def truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value) and value is not None


_FUNCTIONS: dict[str, tuple[int, int, Callable[..., Any]]] = {
    # name: (min args, max args, implementation over evaluated args)
    "equals": (2, 2, lambda a, b: _as_text(a) == _as_text(b)),
    "notEquals": (2, 2, lambda a, b: _as_text(a) != _as_text(b)),
    "not": (1, 1, lambda a: not truthy(a)),
    "and": (1, 64, lambda *xs: all(truthy(x) for x in xs)),
    "or": (1, 64, lambda *xs: any(truthy(x) for x in xs)),
    "greaterThan": (2, 2, lambda a, b: _number(a) > _number(b)),
    "greaterThanEq": (2, 2, lambda a, b: _number(a) >= _number(b)),
    "lessThan": (2, 2, lambda a, b: _number(a) < _number(b)),
    "lessThanEq": (2, 2, lambda a, b: _number(a) <= _number(b)),
    "contains": (2, 2, lambda a, b: a is not None and b is not None and str(b) in str(a)),
    "notContains": (2, 2, lambda a, b: not (a is not None and b is not None and str(b) in str(a))),
    "startsWith": (2, 2, lambda a, b: a is not None and b is not None and str(a).startswith(str(b))),
    "endsWith": (2, 2, lambda a, b: a is not None and b is not None and str(a).endswith(str(b))),
    "stringLength": (1, 1, lambda a: 0 if a is None else len(str(a))),
    "lowerCase": (1, 1, lambda a: None if a is None else str(a).lower()),
    "upperCase": (1, 1, lambda a: None if a is None else str(a).upper()),
    "concat": (0, 64, lambda *xs: "".join("" if x is None else str(x) for x in xs)),
    "if": (2, 4, lambda *xs: None),  # evaluated lazily below
}
# Functions that read the names a condition sees rather than their arguments.
_LOOKUPS = {"dataModel": (1, 1), "gatewayAction": (0, 0)}


def evaluate(text: str, names: Mapping[str, Any]) -> Any:
    """The value of a JSON expression's text over the names a condition sees; ExpressionError, ValueError otherwise."""
    return _evaluate(json.loads(text), names)


def problems(text: str) -> list[str]:
    """Why a JSON expression cannot be accepted (empty when it can)."""
    try:
        expression = json.loads(text)
    except ValueError as e:
        return [f"malformed JSON expression: {e}"]
    return _json_problems(expression)


def _evaluate(expression: Any, names: Mapping[str, Any]) -> Any:
    if not isinstance(expression, list):
        return expression
    if not expression or not isinstance(expression[0], str):
        raise ExpressionError("an expression is a list starting with a function name")
    name, args = expression[0], expression[1:]
    if name == "gatewayAction":
        return names.get(ACTION)
    if name == "dataModel":
        return _data_model(names, str(_evaluate(args[0], names)))
    if name == "if":
        # ["if", cond, then] or ["if", cond, then, "else", otherwise]
        if truthy(_evaluate(args[0], names)):
            return _evaluate(args[1], names)
        return _evaluate(args[3], names) if len(args) == 4 else None
    if name not in _FUNCTIONS:
        raise ExpressionError(f"unknown function {name!r}")
    return _FUNCTIONS[name][2](*(_evaluate(a, names) for a in args))


def _json_problems(expression: Any, depth: int = 0) -> list[str]:
    if depth > 32:
        return ["expression nested too deeply"]
    if not isinstance(expression, list):
        return [] if expression is None or isinstance(expression, (str, int, float, bool)) else [
            f"unsupported literal {expression!r}"
        ]
    if not expression or not isinstance(expression[0], str):
        return ["an expression is a list starting with a function name"]
    name, args = expression[0], expression[1:]
    arity = _LOOKUPS.get(name) or (_FUNCTIONS[name][:2] if name in _FUNCTIONS else None)
    if arity is None:
        return [f"unsupported expression function {name!r}"]
    if not arity[0] <= len(args) <= arity[1]:
        return [f"{name} takes {arity[0]}-{arity[1]} arguments, got {len(args)}"]
    if name == "if" and len(args) == 4 and args[2] != "else":
        return ["if takes [\"if\", condition, then, \"else\", otherwise]"]
    return [p for a in args for p in _json_problems(a, depth + 1)]
