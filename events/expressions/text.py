"""Plain-text conditions (`amount > 100 and approved`), Python-like, through simpleeval.

Also FEEL as Zeebe writes simple conditions (`= amount > 100 and approved = true`): its simple
subset is translated token by token into the same text (`=` compares, `true`/`false`/`null`
are constants) and evaluated the same way.

Invariant: nothing reaches `eval`; text is parsed, every node is checked against the allowed
kinds before it is accepted, and only the deterministic functions below can be called.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from typing import Any

from simpleeval import EvalWithCompoundTypes

__all__ = ["evaluate", "feel_to_text", "problems"]

# Deterministic, side-effect free helpers only (simpleeval's defaults include random numbers).
_TEXT_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len, "str": str, "int": int, "float": float, "bool": bool, "abs": abs, "min": min, "max": max,
}
_TEXT_NODES = (
    ast.Expression, ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.Compare, ast.Name, ast.Load, ast.Constant,
    ast.Attribute, ast.Subscript, ast.Call, ast.List, ast.Tuple, ast.IfExp, ast.boolop, ast.operator,
    ast.unaryop, ast.cmpop,
)


def evaluate(text: str, names: Mapping[str, Any]) -> Any:
    """The value of a text condition over `names`; a name not set is None (`x == None` stays expressible)."""
    return EvalWithCompoundTypes(functions=_TEXT_FUNCTIONS, names=lambda node: names.get(node.id)).eval(text)


def problems(text: str) -> list[str]:
    """Why a text condition cannot be accepted (empty when it can)."""
    if len(text) > 2000:
        return ["condition longer than 2000 characters"]
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        return [f"invalid condition {text!r}: {e.msg}"]
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, _TEXT_NODES):
            found.append(f"{type(node).__name__} is not allowed in a condition")
        elif isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in _TEXT_FUNCTIONS):
            found.append(f"only {', '.join(sorted(_TEXT_FUNCTIONS))} may be called in a condition")
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            found.append(f"attribute {node.attr!r} is not allowed in a condition")
    return found


# --- FEEL's simple subset ------------------------------------------------------------------

_FEEL_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<num>\d+(?:\.\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op><=|>=|!=|[=<>+\-*/(),\[\]])
""", re.VERBOSE)
_FEEL_WORDS = {"true": "True", "false": "False", "null": "None"}


class FeelSyntaxError(ValueError):
    """FEEL text outside the simple subset this dialect reads."""


def feel_to_text(feel: str) -> str:
    """The text condition a FEEL expression (`= a > 1 and b = "x"`) means; FeelSyntaxError outside the subset."""
    body = feel.strip().removeprefix("=")
    out: list[str] = []
    pos = 0
    while pos < len(body):
        match = _FEEL_TOKEN.match(body, pos)
        if match is None:
            raise FeelSyntaxError(f"unsupported FEEL at {body[pos:pos + 20]!r}")
        pos = match.end()
        kind, token = match.lastgroup, match.group()
        if kind == "ws":
            continue
        if kind == "op" and token == "=":
            token = "=="
        elif kind == "name":
            token = _FEEL_WORDS.get(token, token)
        out.append(token)
    if not out:
        raise FeelSyntaxError("an empty FEEL expression")
    return " ".join(out)
