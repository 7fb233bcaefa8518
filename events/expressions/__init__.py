"""Safe conditions on process data: Altinn's JSON expressions and plain text through simpleeval.

Invariant: a condition is checked once when the configuration is written (`condition_problems`)
and evaluated without `eval`, deterministically, against process data only; a condition that
cannot be evaluated at run time (a missing field compared with a number) is false.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from simpleeval import EvalWithCompoundTypes, InvalidExpression

__all__ = ["Facts", "condition_problems", "holds"]


@dataclass(frozen=True)
class Facts:
    """What a condition may look at: the instance's data and the caller's action."""

    form_data: Mapping[str, Any] = field(default_factory=dict)
    documents: tuple[str, ...] = ()
    parameters: Mapping[str, Any] = field(default_factory=dict)
    action: str | None = None
    delivered: bool = False  # data (form fields or documents) arrived since the current task began


def holds(condition: str, facts: Facts) -> bool:
    """Whether a condition (JSON expression text or simpleeval text) is true for these facts."""
    try:
        if _is_json(condition):
            return _truthy(_evaluate(json.loads(condition), facts))
        return bool(_text_evaluator(facts).eval(condition))
    except (InvalidExpression, _ExpressionError, TypeError, ValueError, KeyError, IndexError, AttributeError, ZeroDivisionError, OverflowError):
        return False


def condition_problems(condition: str) -> list[str]:
    """Why a condition cannot be accepted (empty when it can)."""
    if _is_json(condition):
        try:
            expression = json.loads(condition)
        except ValueError as e:
            return [f"malformed JSON expression: {e}"]
        return _json_problems(expression)
    return _text_problems(condition)


# --- Altinn JSON expressions ------------------------------------------------------------


class _ExpressionError(ValueError):
    pass


def _is_json(condition: str) -> bool:
    return condition.lstrip().startswith("[")


def _lookup(data: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(data, Mapping) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def _data_model(facts: Facts, path: str) -> Any:
    # Altinn paths are rooted at the data model ("model.ShouldDoubleSign"); our form data
    # may hold the model under that root or flat, so try the full path, then without the root.
    found = _lookup(facts.form_data, path)
    if found is None and "." in path:
        found = _lookup(facts.form_data, path.split(".", 1)[1])
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
        raise _ExpressionError("not a number")
    return float(value)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value) and value is not None


_FUNCTIONS: dict[str, tuple[int, int, Callable[..., Any]]] = {
    # name: (min args, max args, implementation over evaluated args)
    "equals": (2, 2, lambda a, b: _as_text(a) == _as_text(b)),
    "notEquals": (2, 2, lambda a, b: _as_text(a) != _as_text(b)),
    "not": (1, 1, lambda a: not _truthy(a)),
    "and": (1, 64, lambda *xs: all(_truthy(x) for x in xs)),
    "or": (1, 64, lambda *xs: any(_truthy(x) for x in xs)),
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
# Functions that read the facts rather than their arguments.
_LOOKUPS = {"dataModel": (1, 1), "gatewayAction": (0, 0)}


def _evaluate(expression: Any, facts: Facts) -> Any:
    if not isinstance(expression, list):
        return expression
    if not expression or not isinstance(expression[0], str):
        raise _ExpressionError("an expression is a list starting with a function name")
    name, args = expression[0], expression[1:]
    if name == "gatewayAction":
        return facts.action
    if name == "dataModel":
        return _data_model(facts, str(_evaluate(args[0], facts)))
    if name == "if":
        # ["if", cond, then] or ["if", cond, then, "else", otherwise]
        if _truthy(_evaluate(args[0], facts)):
            return _evaluate(args[1], facts)
        return _evaluate(args[3], facts) if len(args) == 4 else None
    if name not in _FUNCTIONS:
        raise _ExpressionError(f"unknown function {name!r}")
    return _FUNCTIONS[name][2](*(_evaluate(a, facts) for a in args))


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


# --- text conditions ------------------------------------------------------------------------

# Deterministic, side-effect free helpers only (simpleeval's defaults include random numbers).
_TEXT_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len, "str": str, "int": int, "float": float, "bool": bool, "abs": abs, "min": min, "max": max,
}
_TEXT_NODES = (
    ast.Expression, ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.Compare, ast.Name, ast.Load, ast.Constant,
    ast.Attribute, ast.Subscript, ast.Call, ast.List, ast.Tuple, ast.IfExp, ast.boolop, ast.operator,
    ast.unaryop, ast.cmpop,
)


def _names(facts: Facts) -> dict[str, Any]:
    form = dict(facts.form_data)
    return {
        **{k: v for k, v in form.items() if isinstance(k, str) and k.isidentifier()},
        "formData": form,
        "documents": list(facts.documents),
        "parameters": dict(facts.parameters),
        "action": facts.action,
    }


def _text_evaluator(facts: Facts) -> EvalWithCompoundTypes:
    names = _names(facts)
    return EvalWithCompoundTypes(
        functions=_TEXT_FUNCTIONS,
        # A field nobody filled in is None rather than an error: `x == None` stays expressible.
        names=lambda node: names.get(node.id),
    )


def _text_problems(condition: str) -> list[str]:
    if len(condition) > 2000:
        return ["condition longer than 2000 characters"]
    try:
        tree = ast.parse(condition.strip(), mode="eval")
    except SyntaxError as e:
        return [f"invalid condition {condition!r}: {e.msg}"]
    problems = []
    for node in ast.walk(tree):
        if not isinstance(node, _TEXT_NODES):
            problems.append(f"{type(node).__name__} is not allowed in a condition")
        elif isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in _TEXT_FUNCTIONS):
            problems.append(f"only {', '.join(sorted(_TEXT_FUNCTIONS))} may be called in a condition")
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            problems.append(f"attribute {node.attr!r} is not allowed in a condition")
    return problems
