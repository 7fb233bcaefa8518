"""A safe YAML reader for Concord project files that keeps where every value came from.

Invariant: a document is either turned into plain values (dict, list, str, int, float, bool,
None) or refused with a `WorkflowError` naming the file and line; no other exception escapes.
Only the standard scalar, sequence and mapping tags are accepted (nothing constructs objects),
and the reader walks the composed node graph itself under caps: bytes, nesting depth and the
number of nodes visited, which counts every alias expansion, so a billion-laughs document is
refused after `max_nodes` steps instead of growing without end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from events.flows.graph import WorkflowError

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null", "tag:yaml.org,2002:timestamp",
}
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"


@dataclass(frozen=True)
class YamlLimits:
    """Caps on one file: its size, its nesting and the nodes read (aliases counted each time)."""

    max_bytes: int = 1_048_576
    max_depth: int = 64
    max_nodes: int = 100_000


@dataclass(frozen=True)
class Where:
    """A position in a project file, 1-based like an editor's."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class Located(dict[str, Any]):
    """A mapping that also knows where it and each of its keys start."""

    where: Where
    keys_at: dict[str, Where]


class LocatedList(list[Any]):
    """A sequence that also knows where it and each of its items start."""

    where: Where
    items_at: list[Where]


class _Loader(yaml.SafeLoader):
    """SafeLoader used only to compose: it resolves tags but constructs nothing."""


def where_of(value: Any, default: Where) -> Where:
    """The position of a located value, else `default`."""
    return getattr(value, "where", default)


def load_yaml(text: str | bytes, file: str, limits: YamlLimits = YamlLimits()) -> Any:
    """The plain value of one YAML document, its mappings and lists located; WorkflowError otherwise."""
    size = len(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    if size > limits.max_bytes:
        raise WorkflowError("project file too large", [f"{file}: {size} bytes; the limit is {limits.max_bytes}"])
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise WorkflowError("invalid project file", [f"{file}: not UTF-8 text"]) from None
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise WorkflowError("invalid YAML", [f"{file}{line}: {e.problem or e.context}"]) from None
    except yaml.YAMLError as e:
        raise WorkflowError("invalid YAML", [f"{file}: {e}"]) from None
    except RecursionError:
        raise WorkflowError("invalid YAML", [f"{file}: nested too deeply"]) from None
    if node is None:
        return None
    return _Walker(file, limits).value(node, 0)


class _Walker:
    def __init__(self, file: str, limits: YamlLimits) -> None:
        self.file = file
        self.limits = limits
        self.nodes = 0
        self.constructor = yaml.constructor.SafeConstructor()

    def where(self, node: yaml.Node) -> Where:
        return Where(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def refuse(self, node: yaml.Node, problem: str) -> WorkflowError:
        at = self.where(node)
        return WorkflowError("invalid project file", [f"{self.file} (line {at.line}, column {at.column}): {problem}"])

    def value(self, node: yaml.Node, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            raise self.refuse(node, f"more than {self.limits.max_nodes} values (aliases count each time they are used)")
        if depth > self.limits.max_depth:
            raise self.refuse(node, f"nested deeper than {self.limits.max_depth} levels")
        if isinstance(node, yaml.ScalarNode):
            if node.tag not in _SCALAR_TAGS:
                raise self.refuse(node, f"tag {node.tag!r} is not allowed")
            if node.tag == "tag:yaml.org,2002:timestamp":
                return node.value  # kept as text: Concord reads dates as strings
            try:
                scalar = self.constructor.construct_object(node, deep=True)
            except (yaml.YAMLError, ValueError, OverflowError) as e:
                raise self.refuse(node, f"bad scalar: {e}") from None
            if isinstance(scalar, int) and not isinstance(scalar, bool) and not -(2**63) <= scalar < 2**63:
                raise self.refuse(node, "a whole number must fit in 64 bits")
            if isinstance(scalar, float) and (scalar != scalar or scalar in (float("inf"), float("-inf"))):
                raise self.refuse(node, "numbers must be finite")
            return scalar
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ_TAG:
                raise self.refuse(node, f"tag {node.tag!r} is not allowed")
            items = LocatedList(self.value(item, depth + 1) for item in node.value)
            items.where, items.items_at = self.where(node), [self.where(item) for item in node.value]
            return items
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP_TAG:
                raise self.refuse(node, f"tag {node.tag!r} is not allowed")
            mapping = Located()
            mapping.where, mapping.keys_at = self.where(node), {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise self.refuse(key_node, "merge keys (<<) are not supported")
                if not isinstance(key_node, yaml.ScalarNode):
                    raise self.refuse(key_node, "a key must be a scalar")
                self.value(key_node, depth + 1)  # counted and tag-checked like any value
                key = key_node.value  # keys stay text, as Concord reads them (`on:` is not true)
                if key in mapping:
                    raise self.refuse(key_node, f"duplicate key {key!r}")
                mapping.keys_at[key] = self.where(key_node)
                mapping[key] = self.value(value_node, depth + 1)
            return mapping
        raise self.refuse(node, "unsupported YAML node")  # pragma: no cover - the composer makes only these three
