"""One expression evaluator with dialects, and the conditions flows are walked by.

`evaluate(dialect, text, variables)` is the one entry point; each dialect is a module here:

| dialect | written as | module |
|---|---|---|
| `ALTINN` | `["greaterThan", ["dataModel", "amount"], 100]` | `altinn.py` (Altinn's JSON expressions) |
| `TEXT` | `amount > 100 and approved` | `text.py` (Python-like, through simpleeval) |
| `FEEL` | `= amount > 100 and approved = true` | `text.py` (Zeebe's FEEL, its simple subset) |
| `EL` | `${amount > 100 && approved}` | `el.py` (Camunda's JUEL and Concord's EL: one parser) |

A sequence-flow condition says its dialect by its first character (`dialect_of`). Concord's
step interpreter calls `el.py` directly, on templates it parsed once when the project loaded.

Invariant: a condition is checked once when the configuration is written (`condition_problems`)
and evaluated without `eval`, deterministically, against process data only; a condition that
cannot be evaluated at run time (a missing field compared with a number) is false.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from simpleeval import InvalidExpression

from events.expressions import altinn, el, text

__all__ = ["Dialect", "Facts", "condition_problems", "dialect_of", "evaluate", "holds", "problems"]


class Dialect(StrEnum):
    """The expression languages definitions are written in (see the module docstring)."""

    ALTINN = "altinn"
    TEXT = "text"
    FEEL = "feel"
    EL = "el"


@dataclass(frozen=True)
class Facts:
    """What a condition may look at: the instance's data and the caller's action."""

    form_data: Mapping[str, Any] = field(default_factory=dict)
    documents: tuple[str, ...] = ()
    parameters: Mapping[str, Any] = field(default_factory=dict)
    action: str | None = None
    delivered: bool = False  # data (form fields or documents) arrived since the current task began


def evaluate(dialect: Dialect, source: str, variables: Mapping[str, Any]) -> Any:
    """The value of `source`, written in `dialect`, over `variables`; ValueError (or a dialect's error) otherwise."""
    if dialect is Dialect.ALTINN:
        return altinn.evaluate(source, variables)
    if dialect is Dialect.EL:
        return el.render(el.parse_template(source), lambda name: (name in variables, variables.get(name)))
    return text.evaluate(text.feel_to_text(source) if dialect is Dialect.FEEL else source, variables)


def problems(dialect: Dialect, source: str) -> list[str]:
    """Why `source` is not a valid expression of `dialect` (empty when it is)."""
    try:
        if dialect is Dialect.ALTINN:
            return altinn.problems(source)
        if dialect is Dialect.EL:
            if el.parse_template(source).single is None:
                return [f"{source!r} is not one ${{...}} expression"]
            return []
        return text.problems(text.feel_to_text(source) if dialect is Dialect.FEEL else source)
    except (el.ExpressionSyntaxError, text.FeelSyntaxError) as e:
        return [f"invalid expression {source!r}: {e}"]


def dialect_of(condition: str) -> Dialect:
    """The dialect a condition is written in: `[` JSON, `=` FEEL, `${...}` EL, anything else text."""
    start = condition.lstrip()
    if start.startswith("["):
        return Dialect.ALTINN
    if start.startswith("="):
        return Dialect.FEEL
    if start.startswith("${") and start.rstrip().endswith("}"):
        return Dialect.EL
    return Dialect.TEXT


def holds(condition: str, facts: Facts) -> bool:
    """Whether a condition is true for these facts (false when it cannot be evaluated)."""
    dialect = dialect_of(condition)
    try:
        value = evaluate(dialect, condition.strip(), _names(facts))
    except (InvalidExpression, ValueError, TypeError, KeyError, IndexError, AttributeError, ArithmeticError):
        return False
    return altinn.truthy(value) if dialect is Dialect.ALTINN else value is True if dialect is Dialect.EL else bool(value)


def condition_problems(condition: str) -> list[str]:
    """Why a condition cannot be accepted (empty when it can)."""
    return problems(dialect_of(condition), condition.strip())


def _names(facts: Facts) -> dict[str, Any]:
    form = dict(facts.form_data)
    return {
        **{k: v for k, v in form.items() if isinstance(k, str) and k.isidentifier()},
        altinn.FORM_DATA: form,
        "documents": list(facts.documents),
        "parameters": dict(facts.parameters),
        altinn.ACTION: facts.action,
    }
