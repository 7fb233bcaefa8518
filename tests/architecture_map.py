"""The route map in docs/architecture.md, built from the route table itself.

For each route: its handler, the commands it sends (command classes named in the handler or
the module-level helpers it calls), the events those commands may record (their `records`),
the projections that read those events, and the queries it reads through (`runtime.<query>.<method>`).
Run `python -m tests.architecture_map` to rewrite the table; a unit test fails when it drifts.
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path
from types import ModuleType

from services.app import ROUTES
from services.bootstrap import PROJECTIONS
from services.definitions import commands as definition_commands
from services.instances import commands as instance_commands
from services.scripts import commands as script_commands

DOC = Path(__file__).resolve().parents[1] / "docs/architecture.md"
BEGIN, END = "<!-- route-map:begin -->", "<!-- route-map:end -->"
QUERIES = {"definition_views", "instance_views", "process_views", "output", "audit", "models", "registry", "blobs"}
_READS = re.compile(r"\b(\w+)\.(\w+)\(")
_CALLS = re.compile(r"(?<![\w.])(?:(\w+)\.)?(_?[a-z]\w*)\(")
_ASSIGN = re.compile(r"^\s*([\w, ()]+?) = (.+)$", re.M)
_INSTANCE_READS = {"get", "graph_of", "events", "wait", "append_signal"}


def _commands() -> dict[str, type]:
    found = {}
    for module in (definition_commands, instance_commands, script_commands):
        for name, value in vars(module).items():
            if isinstance(value, type) and hasattr(value, "records"):
                found[name] = value
    return found


def _source(handler: object, depth: int = 2) -> str:
    """The handler's source and that of the module-level functions it calls (two levels)."""
    seen, texts, frontier = set(), [], [handler]
    for _ in range(depth + 1):
        following = []
        for fn in frontier:
            if fn in seen:
                continue
            seen.add(fn)
            text = inspect.getsource(fn)  # type: ignore[arg-type]
            texts.append(text)
            module: ModuleType = sys.modules[fn.__module__]  # type: ignore[attr-defined]
            for owner, name in _CALLS.findall(text):
                home = getattr(module, owner, None) if owner else module
                target = getattr(home, name, None) if isinstance(home, ModuleType) else None
                if inspect.isfunction(target) and target.__module__.startswith("services.faces"):
                    following.append(target)
        frontier = following
    return "\n".join(texts)


def _aliases(text: str) -> dict[str, str]:
    """Local names bound to a runtime query object (`views = ctx.runtime.definition_views`)."""
    aliases = {name: name for name in QUERIES | {"instances"}}
    for targets, values in _ASSIGN.findall(text):
        names = [t.strip(" ()") for t in targets.split(",")]
        parts = [v.strip() for v in values.split(", ")] if len(names) > 1 else [values.strip()]
        for name, value in zip(names, parts):
            if (m := re.search(r"runtime\.(\w+)$", value)) and m.group(1) in QUERIES | {"instances"}:
                aliases[name] = m.group(1)
    return aliases


def rows() -> list[tuple[str, ...]]:
    """One row per route: method and path, handler, commands, events, projections, queries."""
    commands = _commands()
    readers = {p.name: {t.split(":", 1)[-1] for t in p.topics} for p in PROJECTIONS}
    table = []
    for route in ROUTES:
        text = _source(route.handler)
        sent = sorted(name for name in commands if re.search(rf"\b{name}\(", text))
        events = sorted({e for name in sent for e in commands[name].records})
        projections = sorted(p for p, names in readers.items() if any(e in names for e in events))
        aliases = _aliases(text)
        reads = sorted({f"{aliases[obj]}.{method}" for obj, method in _READS.findall(text) if obj in aliases
                        and (aliases[obj] != "instances" or method in _INSTANCE_READS)})
        handler = f"{route.handler.__module__.removeprefix('services.faces.')}.{route.handler.__name__}"
        table.append((f"{route.method} `{route.path}`", f"`{handler}`", ", ".join(sent) or "—",
                      ", ".join(events) or "—", ", ".join(projections) or "—", ", ".join(reads) or "—"))
    return table


def render() -> str:
    """The markdown table between the markers."""
    lines = ["| route | handler | command | events | projection | query |", "|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows()]
    return "\n".join(lines)


def documented() -> str:
    """The table as docs/architecture.md has it now."""
    text = DOC.read_text()
    return text[text.index(BEGIN) + len(BEGIN):text.index(END)].strip()


if __name__ == "__main__":
    text = DOC.read_text()
    DOC.write_text(text[:text.index(BEGIN) + len(BEGIN)] + "\n" + render() + "\n" + text[text.index(END):])
