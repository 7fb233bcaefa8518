"""Concord forms: field declarations, the values a submission carries, and Concord's field checks.

A field is `name: {type: "int?", label, pattern, min, max, allow, value, placeholder, readonly}`;
the type's suffix is its cardinality: none exactly one value, `?` one or none, `+` at least one,
`*` any number. A submission is converted as Concord's server does (text from a multipart form
becomes a number or a boolean for those types; a single value of a list field becomes a list),
then checked field by field; each error message has the words of Concord's default validator,
keyed by the field's name. A read-only field keeps its declared value whatever is sent.

Invariant: pure functions of the declaration and the submitted values.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import regex

from events.expressions.el import ExpressionSyntaxError, Template, parse_template, to_text

TYPES = frozenset({"string", "int", "decimal", "boolean", "file"})
CARDINALITY = {"": "ONE_AND_ONLY_ONE", "?": "ONE_OR_NONE", "+": "AT_LEAST_ONE", "*": "ANY"}
_SPELLED = {
    "ANY": "any number of values", "ONE_AND_ONLY_ONE": "a single value",
    "ONE_OR_NONE": "a single optional value", "AT_LEAST_ONE": "at least a single value",
}
_OPTIONS = frozenset({"label", "type", "pattern", "min", "max", "allow", "value", "placeholder", "readonly",
                      "search", "inputType"})
_NAME = re.compile(r"^[A-Za-z0-9_$ ]{1,128}$")
_FIELD = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]{0,127}$")
MAX_PATTERN_CHARS = 512
# A form's author picks the pattern and a person the value: together they could make a
# backtracking match run for ages. The `regex` engine stops a match at a timeout; all the
# pattern checks of one submission share this many seconds, then refuse what is left.
PATTERN_SECONDS = 0.25


@dataclass(frozen=True)
class FormField:
    """One declared field; `value` and `allow` may hold expressions, evaluated when the form waits."""

    name: str
    type: str
    cardinality: str
    label: str | None = None
    pattern: str | None = None
    min: float | int | None = None
    max: float | int | None = None
    allow: Any = None
    value: Any = None
    placeholder: str | None = None
    readonly: bool = False
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def many(self) -> bool:
        """Whether the field holds a list."""
        return self.cardinality in ("AT_LEAST_ONE", "ANY")


@dataclass(frozen=True)
class FormSpec:
    """A declared form: its name and fields in order."""

    name: str
    fields: tuple[FormField, ...]

    def field(self, name: str) -> FormField | None:
        """The field of that name, if declared."""
        return next((f for f in self.fields if f.name == name), None)


def check_form_name(name: str) -> str | None:
    """Why a form name is refused (Concord allows letters, digits, spaces, `_` and `$`), or None."""
    return None if _NAME.match(name) else f"form name {name[:60]!r} may hold only letters, digits, spaces, '_' and '$'"


def parse_form(name: str, raw: Any, where: str) -> tuple[FormSpec | None, list[str]]:
    """A form declaration (a list of one-key mappings) and every problem found in it."""
    problems: list[str] = []
    if (why := check_form_name(name)) is not None:
        problems.append(f"{where}: {why}")
    if not isinstance(raw, list) or not raw:
        return None, [*problems, f"{where}: form {name!r} must be a non-empty list of fields"]
    fields: list[FormField] = []
    at = getattr(raw, "items_at", None)
    for n, item in enumerate(raw):
        spot = f"{at[n]}" if at else f"{where}, field {n + 1}"
        if not isinstance(item, dict) or len(item) != 1:
            problems.append(f"{spot}: a field is one `name: {{type: ...}}` entry")
            continue
        (field_name, spec), = item.items()
        parsed, found = parse_field(field_name, spec, spot)
        problems.extend(found)
        if parsed is not None:
            if any(f.name == parsed.name for f in fields):
                problems.append(f"{spot}: field {field_name!r} is declared twice")
            fields.append(parsed)
    return (FormSpec(name, tuple(fields)) if not problems else None), problems


def parse_field(name: str, spec: Any, spot: str) -> tuple[FormField | None, list[str]]:
    """One field declaration, checked."""
    if not _FIELD.match(name):
        return None, [f"{spot}: field name {name[:60]!r} must be a letter then letters, digits, '_' or '$'"]
    if not isinstance(spec, dict):
        return None, [f"{spot}: field {name!r} needs an object with its type"]
    problems = [f"{spot}: field {name!r}: unsupported option {k!r}" for k in spec if k not in _OPTIONS]
    kind = spec.get("type")
    if not isinstance(kind, str) or kind.rstrip("?+*") not in TYPES or len(kind) - len(kind.rstrip("?+*")) > 1:
        return None, [*problems, f"{spot}: field {name!r}: type must be one of {', '.join(sorted(TYPES))}, "
                                 f"with an optional ?, + or *; got {to_text(kind)!r}"]
    base, suffix = kind.rstrip("?+*"), kind[len(kind.rstrip("?+*")):]
    pattern = spec.get("pattern")
    if pattern is not None:
        if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN_CHARS:
            problems.append(f"{spot}: field {name!r}: pattern must be text of at most {MAX_PATTERN_CHARS} characters")
        else:
            try:
                regex.compile(pattern)
            except regex.error as e:
                problems.append(f"{spot}: field {name!r}: invalid pattern: {e}")
    for bound in ("min", "max"):
        value = spec.get(bound)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            problems.append(f"{spot}: field {name!r}: {bound} must be a number")
    for key in ("allow", "value"):
        problems.extend(f"{spot}: field {name!r}: {key}: {p}" for p in _template_problems(spec.get(key)))
    if "readonly" in spec and not isinstance(spec["readonly"], bool):
        problems.append(f"{spot}: field {name!r}: readonly must be true or false")
    if problems:
        return None, problems
    return FormField(
        name=name, type=base, cardinality=CARDINALITY[suffix], label=_str(spec.get("label")), pattern=pattern,
        min=spec.get("min"), max=spec.get("max"), allow=spec.get("allow"), value=spec.get("value"),
        placeholder=_str(spec.get("placeholder")), readonly=bool(spec.get("readonly", False)),
        options={k: spec[k] for k in ("search", "inputType") if k in spec},
    ), []


def _str(value: Any) -> str | None:
    return None if value is None else to_text(value)


def _template_problems(value: Any) -> list[str]:
    try:
        _templates(value)
    except ExpressionSyntaxError as e:
        return [str(e)]
    return []


def _templates(value: Any) -> list[Template]:
    if isinstance(value, str):
        return [parse_template(value)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _templates(v)]
    if isinstance(value, list):
        return [t for v in value for t in _templates(v)]
    return []


# --- submissions -------------------------------------------------------------------------

def convert(form_field: FormField, raw: Any) -> Any:
    """A submitted value as the field's type expects it, where text can be read so; else unchanged."""
    if isinstance(raw, list):
        items = [_convert_one(form_field, v) for v in raw if not (isinstance(v, str) and v == "" and form_field.type != "string")]
        if not form_field.many:
            return None if not items else items[0] if len(items) == 1 else items
        return items
    value = _convert_one(form_field, raw)
    if form_field.many and value is not None:
        return [value]
    return value


def _convert_one(form_field: FormField, raw: Any) -> Any:
    if not isinstance(raw, str) or form_field.type in ("string", "file"):
        if form_field.type == "decimal" and isinstance(raw, int) and not isinstance(raw, bool):
            return float(raw)
        return raw
    text = raw.strip()
    if text == "":
        return None
    if form_field.type == "int" and re.fullmatch(r"[+-]?\d{1,18}", text):
        return int(text)
    if form_field.type == "decimal":
        try:
            return float(text)
        except ValueError:
            return raw
    if form_field.type == "boolean" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    return raw


class PatternBudget:
    """The seconds left for one submission's pattern checks (see PATTERN_SECONDS)."""

    def __init__(self, seconds: float = PATTERN_SECONDS) -> None:
        self.until = time.monotonic() + seconds

    def matches(self, pattern: str, text: str) -> bool | None:
        """Whether `text` matches all of `pattern`; None when it could not be told in the time left."""
        left = self.until - time.monotonic()
        if left <= 0:
            return None
        try:
            return regex.fullmatch(pattern, text, timeout=left) is not None
        except TimeoutError:
            return None


def field_error(form_field: FormField, value: Any, allowed: Any, budget: PatternBudget | None = None) -> str | None:
    """Concord's message for a value the field refuses, or None when it is accepted."""
    count = 0 if value is None else len(value) if isinstance(value, list) else 1
    fits = {0: ("ANY", "ONE_OR_NONE"), 1: tuple(_SPELLED)}.get(count, ("ANY", "AT_LEAST_ONE"))
    label = form_field.label or form_field.name
    if form_field.cardinality not in fits:
        return f"{label}: Invalid cardinality, expected {_SPELLED[form_field.cardinality]}"
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    budget = budget or PatternBudget()
    for n, item in enumerate(values):
        error = _single_error(form_field, n if isinstance(value, list) else None, item, allowed, budget)
        if error:
            return error
    return None


def _single_error(f: FormField, idx: int | None, v: Any, allowed: Any, budget: PatternBudget) -> str | None:
    name = (f.label or f.name) + (f" [{idx}]" if idx is not None else "")
    shown = to_text(v)
    if allowed is not None and not (v == allowed or (isinstance(allowed, list) and v in allowed)):
        return f"{name}: value '{shown}' is not allowed, valid values: {to_text(allowed)}"
    if f.type in ("string", "file"):
        if not isinstance(v, str):
            return f"{name}: expected a string value, got {shown}"
        if f.type == "string" and f.pattern is not None:
            matched = budget.matches(f.pattern, v)
            if matched is None:
                return f"{name}: value '{shown}' could not be checked against pattern '{f.pattern}' in time"
            if not matched:
                return f"{name}: value '{shown}' doesn't match pattern '{f.pattern}'"
        return None
    if f.type == "boolean":
        return None if isinstance(v, bool) else f"{name}: expected a boolean value, got {shown}"
    if f.type == "int" and (isinstance(v, bool) or not isinstance(v, int)):
        return f"{name}: expected an integer value, got {shown}"
    if f.type == "decimal" and (isinstance(v, bool) or not isinstance(v, (int, float))):
        return f"{name}: expected a decimal value, got {shown}"
    low, high = f.min, f.max
    if (low is not None and v < low) or (high is not None and v > high):
        return f"{name}: value '{shown}' must be {_bounds(low, high)}"
    return None


def _bounds(low: Any, high: Any) -> str:
    if low is not None and high is not None:
        return f"within {to_text(low)} and {to_text(high)} (inclusive)"
    return f"less or equal than {to_text(high)}" if low is None else f"equal or greater than {to_text(low)}"


def accept(form: FormSpec, shown: dict[str, dict[str, Any]], submitted: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The values a submission gives each field, and the errors by field name (empty when accepted).

    `shown` is what the form showed when it began waiting: each field's `value` and `allow`.
    """
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    budget = PatternBudget()
    for f in form.fields:
        current = shown.get(f.name, {})
        raw = current.get("value") if f.readonly or f.name not in submitted else submitted[f.name]
        value = convert(f, raw)
        if (error := field_error(f, value, current.get("allow"), budget)) is not None:
            errors[f.name] = error
        values[f.name] = value
    return values, errors
