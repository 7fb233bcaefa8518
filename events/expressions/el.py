"""Concord's `${...}` expressions: a parser for the EL subset flows use, over a safe evaluator.

Invariant: text is only ever tokenised, parsed into a small tree and walked here; nothing is
handed to `eval`, no attribute of a Python object is read, and only the whitelisted functions
and methods below can be called, on plain values. Parsing is bounded (length and depth), so
every expression of a project can be checked when the project is loaded.

The subset: variables and `a.b` / `a['b']` / `a[0]` access; string, number, boolean and null
literals; list `[..]` and map `{k: v}` literals; `+ - * / % div mod`; `== != < > <= >=` and
`eq ne lt gt le ge`; `&& || !` and `and or not`; `empty`; `c ? a : b`; the functions
`hasVariable('x')`, `hasNonNullVariable('x')`, `orDefault('x', value)`; and the methods
`size length isEmpty contains containsKey get toUpperCase toLowerCase trim startsWith endsWith
substring toString`. Coercions follow EL 3.0: arithmetic on numbers (numeric text is a number,
null is 0), `/` is decimal division, comparisons numeric when either side is a number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

MAX_EXPRESSION_CHARS = 4096
MAX_DEPTH = 48

__all__ = [
    "Expr", "ExpressionError", "ExpressionSyntaxError", "Template", "UndefinedVariable",
    "parse_expression", "parse_template", "render", "to_text",
]


class ExpressionError(ValueError):
    """An expression could not be evaluated (a type mismatch, an unknown method...)."""


class UndefinedVariable(ExpressionError):
    """An expression named a variable that is not set."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class ExpressionSyntaxError(ValueError):
    """An expression that cannot be parsed, or is too long or too deep."""


# --- tokens -----------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\d+)
  | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||[-+*/%<>!?:.,()\[\]{}])
""", re.VERBOSE)
_WORD_OPS = {"and": "&&", "or": "||", "not": "!", "eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=",
             "ge": ">=", "div": "/", "mod": "%"}
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r"}


@dataclass(frozen=True)
class _Tok:
    kind: str  # num, str, name, op, end
    text: str
    at: int


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ExpressionSyntaxError(f"unexpected character {text[pos]!r} at position {pos + 1}")
        kind = m.lastgroup or ""
        if kind != "ws":
            word = m.group()
            if kind == "name" and word in _WORD_OPS:
                kind, word = "op", _WORD_OPS[word]
            out.append(_Tok(kind, word, pos))
        pos = m.end()
    out.append(_Tok("end", "", len(text)))
    return out


def _unquote(raw: str) -> str:
    body, out, i = raw[1:-1], [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append(_ESCAPES.get(body[i + 1], "\\" + body[i + 1]))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


# --- the tree ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Expr:
    """One parsed `${...}`: its source text and its tree (nested tuples, first item the node kind)."""

    source: str
    tree: tuple[Any, ...]

    def names(self) -> set[str]:
        """The top-level variable names the expression reads."""
        found: set[str] = set()
        _collect_names(self.tree, found)
        return found


def _collect_names(node: Any, found: set[str]) -> None:
    if isinstance(node, tuple) and node:
        if node[0] == "var":
            found.add(node[1])
            return
        for part in node[1:]:
            _collect_names(part, found)
    elif isinstance(node, list):
        for part in node:
            _collect_names(part, found)


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.depth = 0

    def peek(self, text: str | None = None) -> bool:
        tok = self.toks[self.i]
        return tok.kind == "op" and tok.text == text

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.take()
        if tok.kind != "op" or tok.text != text:
            raise ExpressionSyntaxError(f"expected {text!r} at position {tok.at + 1}, found {tok.text or 'the end'!r}")

    def deeper(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionSyntaxError(f"expression nested deeper than {MAX_DEPTH} levels")

    def parse(self) -> tuple[Any, ...]:
        tree = self.ternary()
        tok = self.toks[self.i]
        if tok.kind != "end":
            raise ExpressionSyntaxError(f"unexpected {tok.text!r} at position {tok.at + 1}")
        return tree

    def ternary(self) -> tuple[Any, ...]:
        self.deeper()
        cond = self.binary(0)
        if self.peek("?"):
            self.take()
            yes = self.ternary()
            self.expect(":")
            no = self.ternary()
            cond = ("if", cond, yes, no)
        self.depth -= 1
        return cond

    _LEVELS: tuple[tuple[str, ...], ...] = (("||",), ("&&",), ("==", "!="), ("<", ">", "<=", ">="), ("+", "-"), ("*", "/", "%"))

    def binary(self, level: int) -> tuple[Any, ...]:
        if level == len(self._LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.toks[self.i].kind == "op" and self.toks[self.i].text in self._LEVELS[level]:
            op = self.take().text
            self.deeper()
            left = (op, left, self.binary(level + 1))
        return left

    def unary(self) -> tuple[Any, ...]:
        tok = self.toks[self.i]
        if (tok.kind == "op" and tok.text in ("!", "-")) or (tok.kind == "name" and tok.text == "empty"):
            self.take()
            self.deeper()
            operand = self.unary()
            self.depth -= 1
            return ({"!": "not", "-": "neg", "empty": "empty"}[tok.text], operand)
        return self.postfix()

    def postfix(self) -> tuple[Any, ...]:
        node = self.primary()
        while True:
            if self.peek("."):
                self.take()
                tok = self.take()
                if tok.kind != "name":
                    raise ExpressionSyntaxError(f"expected a property name at position {tok.at + 1}")
                if self.peek("("):
                    node = ("method", node, tok.text, self.arguments())
                else:
                    node = ("get", node, ("lit", tok.text))
            elif self.peek("["):
                self.take()
                self.deeper()
                index = self.ternary()
                self.expect("]")
                node = ("get", node, index)
            else:
                return node

    def arguments(self) -> list[tuple[Any, ...]]:
        self.expect("(")
        args: list[tuple[Any, ...]] = []
        if not self.peek(")"):
            args.append(self.ternary())
            while self.peek(","):
                self.take()
                args.append(self.ternary())
        self.expect(")")
        return args

    def primary(self) -> tuple[Any, ...]:
        tok = self.take()
        if tok.kind == "num":
            is_float = any(c in tok.text for c in ".eE")
            return ("lit", float(tok.text) if is_float else int(tok.text))
        if tok.kind == "str":
            return ("lit", _unquote(tok.text))
        if tok.kind == "name":
            if tok.text in ("true", "false"):
                return ("lit", tok.text == "true")
            if tok.text == "null":
                return ("lit", None)
            if self.peek("("):
                return ("call", tok.text, self.arguments())
            return ("var", tok.text)
        if tok.kind == "op" and tok.text == "(":
            self.deeper()
            inner = self.ternary()
            self.expect(")")
            self.depth -= 1
            return inner
        if tok.kind == "op" and tok.text == "[":
            items: list[tuple[Any, ...]] = []
            if not self.peek("]"):
                items.append(self.ternary())
                while self.peek(","):
                    self.take()
                    items.append(self.ternary())
            self.expect("]")
            return ("list", items)
        if tok.kind == "op" and tok.text == "{":
            pairs: list[tuple[Any, ...]] = []
            if not self.peek("}"):
                while True:
                    key = self.ternary()
                    self.expect(":")
                    pairs.append((key, self.ternary()))
                    if not self.peek(","):
                        break
                    self.take()
            self.expect("}")
            return ("map", pairs)
        raise ExpressionSyntaxError(f"unexpected {tok.text or 'end of expression'!r} at position {tok.at + 1}")


def parse_expression(text: str) -> Expr:
    """The tree of one expression body (the text between `${` and `}`)."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionSyntaxError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    if not text.strip():
        raise ExpressionSyntaxError("empty expression")
    try:
        return Expr("${" + text + "}", _Parser(text).parse())
    except RecursionError:
        raise ExpressionSyntaxError(f"expression nested deeper than {MAX_DEPTH} levels") from None


# --- templates: text with ${...} inside ---------------------------------------------------

@dataclass(frozen=True)
class Template:
    """A string value split into literal text and expressions."""

    parts: tuple[str | Expr, ...]

    @property
    def single(self) -> Expr | None:
        """The expression when the whole value is exactly one `${...}` (its result keeps its type)."""
        return self.parts[0] if len(self.parts) == 1 and isinstance(self.parts[0], Expr) else None

    @property
    def constant(self) -> bool:
        """Whether the value holds no expression at all."""
        return all(isinstance(p, str) for p in self.parts)


def parse_template(text: str) -> Template:
    """Split a string into text and `${...}` expressions, each parsed."""
    parts: list[str | Expr] = []
    pos = 0
    while (start := text.find("${", pos)) != -1:
        end = _closing_brace(text, start + 2)
        if start > pos:
            parts.append(text[pos:start])
        parts.append(parse_expression(text[start + 2:end]))
        pos = end + 1
    if pos < len(text) or not parts:
        parts.append(text[pos:])
    return Template(tuple(parts))


def _closing_brace(text: str, pos: int) -> int:
    depth, quote = 0, ""
    while pos < len(text):
        ch = text[pos]
        if quote:
            if ch == "\\":
                pos += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                return pos
            depth -= 1
        pos += 1
    raise ExpressionSyntaxError("an expression `${` is not closed by `}`")


# --- evaluation -------------------------------------------------------------------------

Resolver = Callable[[str], tuple[bool, Any]]


def render(template: Template, resolve: Resolver) -> Any:
    """The value of a template: a single expression keeps its type, anything else is text."""
    if (single := template.single) is not None:
        return evaluate(single, resolve)
    return "".join(p if isinstance(p, str) else to_text(evaluate(p, resolve), in_template=True) for p in template.parts)


def evaluate(expr: Expr, resolve: Resolver) -> Any:
    """The value of one expression; ExpressionError (UndefinedVariable) when it cannot be computed."""
    try:
        return _Eval(resolve).run(expr.tree)
    except (TypeError, ArithmeticError, RecursionError) as e:
        raise ExpressionError(f"cannot evaluate {expr.source}: {e}") from None


def to_text(value: Any, *, in_template: bool = False) -> str:
    """A value as Concord (Java) prints it: `true`, `null`, `[a, b]`, `{k=v}`."""
    if value is None:
        return "" if in_template else "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value) if not value.is_integer() or abs(value) >= 1e16 else f"{value:.1f}"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{to_text(k)}={to_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(to_text(v) for v in value) + "]"
    return str(value)


def _number(value: Any) -> int | float:
    if value is None:
        return 0
    if isinstance(value, bool):
        raise ExpressionError(f"cannot convert {to_text(value)} to a number")
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                raise ExpressionError(f"cannot convert '{value}' to a number") from None
    raise ExpressionError(f"cannot convert {type(value).__name__} to a number")


def _boolean(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower() == "true"
    raise ExpressionError(f"cannot convert {to_text(value)} to a boolean")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if _is_number(a) or _is_number(b):
        try:
            return _number(a) == _number(b)
        except ExpressionError:
            return False
    if isinstance(a, bool) or isinstance(b, bool):
        return _boolean(a) == _boolean(b)
    return bool(a == b)


def _compare(op: str, a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    if _is_number(a) or _is_number(b):
        x, y = _number(a), _number(b)
    elif isinstance(a, str) and isinstance(b, str):
        x, y = a, b  # type: ignore[assignment]
    else:
        raise ExpressionError(f"cannot compare {to_text(a)} with {to_text(b)}")
    return {"<": x < y, ">": x > y, "<=": x <= y, ">=": x >= y}[op]


_LONG = 2 ** 63  # Java's long, and what a stored JSON number holds


def _arith(op: str, a: Any, b: Any) -> int | float:
    result = _arith_raw(op, a, b)
    if isinstance(result, int) and not -_LONG <= result < _LONG:
        raise ExpressionError(f"{to_text(a)} {op} {to_text(b)} overflows a long")
    if isinstance(result, float) and (math.isinf(result) or math.isnan(result)):
        raise ExpressionError(f"{to_text(a)} {op} {to_text(b)} is not a finite number")
    return result


def _arith_raw(op: str, a: Any, b: Any) -> int | float:
    x, y = _number(a), _number(b)
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if op == "/":
        if y == 0:
            raise ExpressionError("division by zero")
        return float(x) / float(y)
    if y == 0:
        raise ExpressionError("division by zero")
    if isinstance(x, int) and isinstance(y, int):
        r = abs(x) % abs(y)  # Java's remainder takes the sign of the dividend
        return r if x >= 0 else -r
    return math.fmod(x, y)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (str, list, tuple, Mapping)) and len(value) == 0)


def _size(value: Any) -> int:
    if isinstance(value, (str, list, tuple, Mapping)):
        return len(value)
    raise ExpressionError(f"{to_text(value)} has no size")


_METHODS: dict[str, Callable[..., Any]] = {
    "size": lambda v: _size(v),
    "length": lambda v: _size(v),
    "isEmpty": lambda v: _empty(v),
    "contains": lambda v, x: (x in v) if isinstance(v, (str, list, tuple)) and (not isinstance(v, str) or isinstance(x, str)) else _no(v, "contains"),
    "containsKey": lambda v, k: (k in v) if isinstance(v, Mapping) else _no(v, "containsKey"),
    "get": lambda v, k: (v.get(k) if isinstance(v, Mapping) else v[k] if isinstance(v, list) and isinstance(k, int) and 0 <= k < len(v) else None),
    "toUpperCase": lambda v: _text(v).upper(),
    "toLowerCase": lambda v: _text(v).lower(),
    "trim": lambda v: _text(v).strip(),
    "startsWith": lambda v, p: _text(v).startswith(_text(p)),
    "endsWith": lambda v, p: _text(v).endswith(_text(p)),
    "substring": lambda v, a, b=None: _text(v)[int(_number(a)):None if b is None else int(_number(b))],
    "toString": lambda v: to_text(v),
}


def _no(value: Any, method: str) -> Any:
    raise ExpressionError(f"method {method}() is not available on {to_text(value)}")


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ExpressionError(f"{to_text(value)} is not a string")
    return value


class _Eval:
    def __init__(self, resolve: Resolver) -> None:
        self.resolve = resolve

    def run(self, node: tuple[Any, ...]) -> Any:
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "var":
            found, value = self.resolve(node[1])
            if not found:
                raise UndefinedVariable(node[1])
            return value
        if kind == "get":
            return self.get(self.run(node[1]), self.run(node[2]))
        if kind == "&&":
            return _boolean(self.run(node[1])) and _boolean(self.run(node[2]))
        if kind == "||":
            return _boolean(self.run(node[1])) or _boolean(self.run(node[2]))
        if kind == "if":
            return self.run(node[2]) if _boolean(self.run(node[1])) else self.run(node[3])
        if kind == "not":
            return not _boolean(self.run(node[1]))
        if kind == "neg":
            return -_number(self.run(node[1]))
        if kind == "empty":
            return _empty(self.run(node[1]))
        if kind == "list":
            return [self.run(item) for item in node[1]]
        if kind == "map":
            return {to_text(self.run(k)): self.run(v) for k, v in node[1]}
        if kind == "call":
            return self.call(node[1], [self.run(a) for a in node[2]])
        if kind == "method":
            return self.method(self.run(node[1]), node[2], [self.run(a) for a in node[3]])
        a, b = self.run(node[1]), self.run(node[2])
        if kind == "==":
            return _equal(a, b)
        if kind == "!=":
            return not _equal(a, b)
        if kind in ("<", ">", "<=", ">="):
            return _compare(kind, a, b)
        return _arith(kind, a, b)

    @staticmethod
    def get(base: Any, key: Any) -> Any:
        if base is None:
            return None
        if isinstance(base, Mapping):
            return base.get(key if isinstance(key, str) else to_text(key))
        if isinstance(base, (list, tuple)):
            try:
                index = int(_number(key))
            except ExpressionError:
                raise ExpressionError(f"cannot read property '{to_text(key)}' of a list") from None
            return base[index] if 0 <= index < len(base) else None
        raise ExpressionError(f"cannot read property '{to_text(key)}' of {to_text(base)}")

    def call(self, name: str, args: list[Any]) -> Any:
        if name in ("hasVariable", "hasNonNullVariable") and len(args) == 1:
            found, value = self._path(_text(args[0]))
            return found and (name == "hasVariable" or value is not None)
        if name == "orDefault" and len(args) == 2:
            found, value = self._path(_text(args[0]))
            return value if found and value is not None else args[1]
        raise ExpressionError(f"unknown function {name}() with {len(args)} argument(s)")

    def _path(self, dotted: str) -> tuple[bool, Any]:
        head, *rest = dotted.split(".")
        found, value = self.resolve(head)
        for part in rest:
            if not found or not isinstance(value, Mapping) or part not in value:
                return False, None
            value = value[part]
        return found, value

    @staticmethod
    def method(base: Any, name: str, args: list[Any]) -> Any:
        fn = _METHODS.get(name)
        if fn is None:
            raise ExpressionError(f"unknown method {name}()")
        if base is None:
            raise ExpressionError(f"cannot call {name}() on null")
        try:
            return fn(base, *args)
        except TypeError:
            raise ExpressionError(f"{name}() does not take {len(args)} argument(s)") from None
