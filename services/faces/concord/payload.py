"""What a Concord start request asks to run: entry point, archive contents, arguments, options.

Decisions where the document is silent (also in the face's docstring):
- Entry point `project:repository:flow` or `project:flow` (docs/faces.md); `project` alone is the
  definition's latest version and default start. `repository` is a tag or a version number,
  `default` (or empty) the latest; `flow` is a start event of the definition's model.
- A Concord project (`concord.yml`, `.concord.yml` or `concord.yaml` at the root, plus
  `concord/*.concord.yml`) is the archive's flow model like `flow.bpmn`; it runs ad hoc with the
  `activeProfiles` of the form field or `request.json` (see `services/faces/concord/project.py`).
- An archive may carry `request.json` (`{"arguments": {...}, "entryPoint": ..., "activeProfiles": ...}`)
  and one flow model at its root: `flow.bpmn` or any one `*.bpmn` (BPMN 2.0), or `flow.json`
  (a state machine `{"initialState", "states"}`, or a configuration `{"script"|"workflow", "name",
  "description", "input"}`). Several models are refused (400); a Concord `concord.yml` alone
  runs as a Concord project.
- What runs: an entry point with a colon names a configuration, and an archive that also carries
  a flow model is refused as ambiguous (400). Without a colon, an entry point names the flow (start
  event) of the archive's model when there is one (the seed's `-F entryPoint=main`), else a
  configuration. Without an entry point, the archive's model runs ad hoc; with neither, 400.
- Arguments merge deeply, later winning: `request.json` in the archive, then the `request` part,
  then text parts. Text parts other than the reserved names are arguments; an `arguments.` prefix
  is optional; dots nest (`arguments.x.y`); a repeated name becomes a list.
- The archive's other files, then the form's file parts (overwriting), are the process's files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson
from pydantic import ValidationError

from contracts.concord import StartRequest

from events.concord.compiler import CONCORD
from events.concord.project import ROOT_FILES, is_project_file
from services.http.problems import ProblemError, validation_messages

REQUEST_FILE = "request.json"
RESERVED = frozenset({"archive", "request", "entryPoint", "sync", "startAt", "activeProfiles"})
_CONFIGURATION_FIELDS = ("script", "workflow", "name", "description", "input")


@dataclass(frozen=True)
class EntryPoint:
    """A configuration to start: definition key, version selector (None = latest), start event."""

    key: str
    selector: str | None = None
    flow: str | None = None


@dataclass
class StartPlan:
    """Everything one start needs, read and checked; `entry` or `adhoc` says what runs."""

    entry: EntryPoint | None = None
    adhoc: dict[str, Any] | None = None
    flow: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    start_at: datetime | None = None
    sync: bool = False
    profiles: list[str] = field(default_factory=list)


# What `parse_entry_point` takes, for the OpenAPI document.
ENTRY_POINT_SCHEMA = {"type": "string", "pattern": "^[^:]+(?::[^:]*){0,2}$", "maxLength": 400,
                      "description": "project, project:flow or project:repository:flow"}


def parse_entry_point(text: str) -> EntryPoint:
    """`project:repository:flow`, `project:flow` or `project`; 400 when it cannot be one."""
    parts = text.split(":")
    if len(parts) > 3 or not parts[0] or len(text) > 400:
        raise ProblemError(400, f"entry point {text[:80]!r} must be project, project:flow or project:repository:flow")
    key, repo, flow = parts if len(parts) == 3 else (parts[0], "", parts[1] if len(parts) == 2 else "")
    return EntryPoint(key, None if repo in ("", "default") else repo, flow or None)


def parse_bool(raw: str | None, name: str) -> bool:
    """`true` / `false` (any case); absent is false; 400 otherwise."""
    if raw is None or raw == "":
        return False
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise ProblemError(400, f"{name} must be true or false, got {raw[:20]!r}")


def parse_start_at(raw: str | None, now: datetime) -> datetime | None:
    """An ISO-8601 moment with an offset, not in the past (as Concord requires); 400 otherwise."""
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ProblemError(400, f"startAt must be an ISO-8601 time with an offset, got {raw[:40]!r}") from None
    if moment.tzinfo is None:
        raise ProblemError(400, f"startAt must carry a time zone offset, got {raw[:40]!r}")
    if moment < now:
        raise ProblemError(400, f"startAt {raw[:40]!r} is in the past")
    return moment.astimezone(timezone.utc)


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` merged into `base`, objects deeply, everything else replaced."""
    out = dict(base)
    for key, value in over.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def nest(texts: dict[str, list[str]]) -> dict[str, Any]:
    """Text parts as arguments: dotted names nest, repeats become lists; clashes are 400."""
    arguments: dict[str, Any] = {}
    for name, values in texts.items():
        if name in RESERVED:
            continue
        path = name.removeprefix("arguments.").split(".")
        if any(not p for p in path) or name == "arguments":
            raise ProblemError(400, f"parameter name {name[:80]!r} has an empty segment")
        node = arguments
        for step in path[:-1]:
            node = node.setdefault(step, {})
            if not isinstance(node, dict):
                raise ProblemError(400, f"parameter {name[:80]!r} nests under a value that is not an object")
        if isinstance(node.get(path[-1]), dict):
            raise ProblemError(400, f"parameter {name[:80]!r} is both a value and an object")
        node[path[-1]] = values[0] if len(values) == 1 else list(values)
    return arguments


def request_object(raw: Any, where: str) -> dict[str, Any]:
    """A Concord request (`request.json` or the `request` part), parsed by its model (`contracts.concord.StartRequest`).

    The members it sent, as sent (Concord's others kept beside them).
    """
    try:
        if isinstance(raw, bytes | bytearray | str):
            parsed = StartRequest.model_validate_json(raw)
        else:
            parsed = StartRequest.model_validate(raw)
    except ValidationError as e:
        if any(err["type"] == "json_invalid" for err in e.errors()):
            raise ProblemError(400, f"{where} is not valid JSON", title="Malformed JSON") from None
        raise ProblemError(400, f"{where} must be a JSON object whose arguments are an object",
                           errors=[f"{where}.{line}" for line in validation_messages(e)]) from None
    return parsed.model_dump(exclude_unset=True)


def flow_model(files: dict[str, bytes]) -> tuple[str, dict[str, Any]] | None:
    """The archive's flow model as (file name, ad hoc configuration), if it has one."""
    models = sorted(n for n in files if "/" not in n and (n.endswith(".bpmn") or n == "flow.json"))
    project = [n for n in files if is_project_file(n)]
    if project and not any(n in ROOT_FILES for n in project):
        raise ProblemError(400, f"the archive holds {project[0]} but no concord.yml at its root")
    if project:
        models.append("concord.yml")
    if len(models) > 1:
        raise ProblemError(400, f"the archive holds several flow models ({', '.join(models[:5])}); keep one")
    if not models:
        return None
    if project:
        texts = {}
        for name in project:
            try:
                texts[name] = files[name].decode("utf-8")
            except UnicodeDecodeError:
                raise ProblemError(400, f"{name} is not UTF-8 text") from None
        return ",".join(sorted(project)), {"workflow": {CONCORD: texts}}
    name = models[0]
    if name.endswith(".bpmn"):
        try:
            return name, {"workflow": files[name].decode("utf-8")}
        except UnicodeDecodeError:
            raise ProblemError(400, f"{name} is not UTF-8 text") from None
    model = request_object_like(files[name], name)
    if "states" in model:
        return name, {"workflow": model}
    if model.keys() & {"script", "workflow"}:
        return name, {k: model[k] for k in _CONFIGURATION_FIELDS if k in model}
    raise ProblemError(422, f"{name} must be a state machine (states) or a configuration (script or workflow)")


def request_object_like(raw: bytes, where: str) -> dict[str, Any]:
    """A JSON object from a file; 400 otherwise."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ProblemError(400, f"{where} is not valid JSON: {e}", title="Malformed JSON") from None
    if not isinstance(value, dict):
        raise ProblemError(400, f"{where} must be a JSON object")
    return value


def active_profiles(raw: Any) -> list[str]:
    """Concord's `activeProfiles`: a list, or names separated by commas (a form field may repeat)."""
    if raw is None or raw == "":
        return []
    names = raw if isinstance(raw, list) else [raw]
    if not all(isinstance(n, str) for n in names):
        raise ProblemError(400, "activeProfiles must be profile names")
    return [p.strip() for n in names for p in n.split(",") if p.strip()]


def build_plan(
    *, archive: dict[str, bytes] | None, request: dict[str, Any] | None, texts: dict[str, list[str]],
    files: dict[str, bytes], entry_point: str | None, start_at: datetime | None, sync: bool,
) -> StartPlan:
    """Decide what runs, with which arguments and files (the rules in this module's docstring)."""
    archive = dict(archive or {})
    base = request_object(archive.pop(REQUEST_FILE), REQUEST_FILE) if REQUEST_FILE in archive else {}
    config = merge(base, request or {})
    arguments = merge(config.get("arguments") or {}, nest(texts))
    model = flow_model(archive)
    if model is not None:
        for name in model[0].split(","):
            archive.pop(name)
    entry = entry_point or config.get("entryPoint") or None
    plan = StartPlan(arguments=arguments, files={**archive, **files}, start_at=start_at, sync=sync,
                     profiles=active_profiles(texts.get("activeProfiles") or config.get("activeProfiles")))
    if entry and ":" in entry:
        if model is not None:
            raise ProblemError(400, f"the entry point {entry[:80]!r} names a configuration, but the archive carries "
                                    f"its own flow model ({model[0]}); send one or the other")
        plan.entry = parse_entry_point(entry)
    elif model is not None:
        plan.adhoc, plan.flow = model[1], entry
    elif entry:
        plan.entry = parse_entry_point(entry)
    else:
        raise ProblemError(400, "nothing to run: name an entryPoint or put flow.bpmn or flow.json in the archive")
    return plan
