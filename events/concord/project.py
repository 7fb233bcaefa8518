"""A Concord project (concord.yml and concord/*.concord.yml) read, checked and compiled to steps.

Files: the root file (`concord.yml`, `.concord.yml` or `concord.yaml`, exactly one), then every
`concord/*.concord.yml` (or `.concord.yaml`) in name order; `flows`, `forms` and `profiles` merge
by name (a later file's entry wins), `configuration` merges deeply. Each step is compiled once,
with its expressions parsed, into a `Step` with a stable id (`default[2].then[0]`) and the file
and line it came from. Everything the subset does not honour is refused by name and line, all
problems at once (`WorkflowError`), so nothing starts half-understood.

Invariant: `load_project` is a pure function of the file texts; `Project.view(profiles)` is a pure
function of the project and the ordered profile names, so a waiting process rebuilds exactly the
program it started with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from events.concord.forms import FormField, FormSpec, parse_field, parse_form
from events.concord.safe_yaml import Located, Where, YamlLimits, load_yaml
from events.expressions.el import ExpressionSyntaxError, Template, parse_template
from events.flows.graph import WorkflowError

ROOT_FILES = ("concord.yml", ".concord.yml", "concord.yaml")
EXTRA_SUFFIXES = (".concord.yml", ".concord.yaml")
DEFAULT_ENTRY = "default"

_TOP = frozenset({"configuration", "flows", "forms", "profiles", "publicFlows", "resources"})
_TOP_REFUSED = {"imports": "imports are not supported (the archive must carry every file)",
                "triggers": "triggers are not supported", "dependencies": "dependencies are not supported"}
_CONFIG = frozenset({"entryPoint", "arguments", "processTimeout", "runtime", "debug", "meta", "out",
                     "activeProfiles"})
_CONFIG_REFUSED = {"dependencies": "plugins and dependencies are not supported",
                   "extraDependencies": "plugins and dependencies are not supported",
                   "template": "templates are not supported", "imports": "imports are not supported",
                   "requirements": "agent requirements are not supported"}
_PROFILE = frozenset({"configuration", "flows", "forms"})
# Steps: the key that names the kind, and the other keys each kind accepts.
_COMMON = frozenset({"name", "meta"})
_LOOPED = frozenset({"withItems", "loop"})
_KINDS: dict[str, frozenset[str]] = {
    "log": _COMMON | _LOOPED,
    "set": _COMMON,
    "expr": _COMMON | {"out", "error"},
    "if": _COMMON | {"then", "else"},
    "switch": _COMMON | {"default"},  # and any case label
    "call": _COMMON | _LOOPED | {"in", "out", "error", "retry"},
    "task": _COMMON | _LOOPED | {"in", "out", "error", "retry", "ignoreErrors"},
    "throw": _COMMON,
    "form": _COMMON | {"fields", "values", "yield", "saveSubmittedBy"},
    "suspend": _COMMON,
    "try": _COMMON | _LOOPED | {"error"},
    "block": _COMMON | _LOOPED | {"error"},
}
_REFUSED_STEPS = {
    "script": "inline scripts are not supported", "parallel": "parallel blocks are not supported",
    "checkpoint": "checkpoints are not supported", "docker": "docker steps are not supported",
}
_STRING_STEPS = frozenset({"return", "exit"})
_LOOP_KEYS = frozenset({"items", "mode", "parallelism"})
_RETRY_KEYS = frozenset({"times", "delay", "in"})


@dataclass(frozen=True)
class Step:
    """One compiled step: its kind, where it came from, and its parsed parts."""

    id: str
    kind: str
    where: Where
    name: str | None = None
    args: dict[str, Any] = field(default_factory=dict)  # kind-specific, templates already parsed
    blocks: dict[str, str] = field(default_factory=dict)  # then/else/error/default/try/"case:<label>" -> block id
    cases: tuple[tuple[Any, str], ...] = ()  # switch: (label value or template, block id)
    loop: Any = None  # the items value (a template or a literal), when the step runs per item
    retry: dict[str, Any] | None = None

    def label(self) -> str:
        """How log lines and errors name the step."""
        return self.name or self.kind


@dataclass(frozen=True)
class ProjectView:
    """The flows, forms and configuration of a project with its active profiles applied."""

    project: Project
    profiles: tuple[str, ...]
    flows: dict[str, str]  # flow name -> block id
    forms: dict[str, FormSpec]
    configuration: dict[str, Any]

    @property
    def entry_point(self) -> str:
        """The flow a start runs when it names none."""
        return str(self.configuration.get("entryPoint") or DEFAULT_ENTRY)

    def block(self, block_id: str) -> tuple[Step, ...]:
        """The steps of one block."""
        return self.project.blocks[block_id]


@dataclass(frozen=True)
class Project:
    """Every compiled block (base and profile flows alike), the forms and the raw configuration."""

    blocks: dict[str, tuple[Step, ...]]
    flows: dict[str, str]
    forms: dict[str, FormSpec]
    configuration: dict[str, Any]
    profiles: dict[str, dict[str, Any]]  # name -> {"flows": {name: block}, "forms": {...}, "configuration": {...}}
    tasks: tuple[tuple[str, Where], ...]  # every `task:` name with where it is used

    def view(self, active: list[str] | tuple[str, ...] = ()) -> ProjectView:
        """The project as the active profiles (applied in order) make it; WorkflowError for an unknown one."""
        unknown = [p for p in active if p not in self.profiles]
        if unknown:
            raise WorkflowError("unknown profile", [f"activeProfiles: {p!r} is not a profile of the project" for p in unknown])
        flows, forms, configuration = dict(self.flows), dict(self.forms), dict(self.configuration)
        for name in active:
            overlay = self.profiles[name]
            flows.update(overlay["flows"])
            forms.update(overlay["forms"])
            configuration = deep_merge(configuration, overlay["configuration"])
        return ProjectView(self, tuple(active), flows, forms, configuration)


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` merged into `base`: mappings deeply, anything else replaced."""
    out = dict(base)
    for key, value in over.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def is_project_file(name: str) -> bool:
    """Whether an archive member is a Concord project file (root file or `concord/*.concord.yml`)."""
    if name in ROOT_FILES:
        return True
    folder, _, base = name.partition("/")
    return folder == "concord" and "/" not in base and base.endswith(EXTRA_SUFFIXES)


def project_files(files: dict[str, Any]) -> list[str]:
    """The project files among an archive's members, root first; WorkflowError when roots clash."""
    roots = [n for n in ROOT_FILES if n in files]
    if len(roots) > 1:
        raise WorkflowError("several project files", [f"keep one of {', '.join(roots)}"])
    extras = sorted(n for n in files if n not in ROOT_FILES and is_project_file(n))
    return roots + extras


def load_project(files: dict[str, str | bytes], limits: YamlLimits = YamlLimits()) -> Project:
    """Read, merge, check and compile a project's files; WorkflowError listing every problem."""
    names = project_files(files)
    if not names or names[0] not in ROOT_FILES:
        raise WorkflowError("no project file", ["concord.yml: the project's root file is missing"])
    problems: list[str] = []
    compiler = _Compiler(names[0])
    merged: dict[str, Any] = {"configuration": {}, "flows": {}, "forms": {}, "profiles": {}}
    for name in names:
        document = load_yaml(files[name], name, limits)
        if document is None:
            continue
        if not isinstance(document, dict):
            problems.append(f"{name}: the file must be a mapping (configuration, flows, forms, profiles)")
            continue
        problems.extend(_top_problems(name, document))
        for section in ("flows", "forms", "profiles"):
            value = document.get(section)
            if value is None:
                continue
            if not isinstance(value, dict):
                problems.append(f"{_at(document, section, name)}: {section} must be a mapping")
                continue
            merged[section].update(value)
        if isinstance(document.get("configuration"), dict):
            problems.extend(compiler.configuration(document["configuration"], "configuration", name))
            merged["configuration"] = deep_merge(merged["configuration"], document["configuration"])
        elif document.get("configuration") is not None:
            problems.append(f"{_at(document, 'configuration', name)}: configuration must be a mapping")
    flows = compiler.flows(merged["flows"], "")
    forms = compiler.forms(merged["forms"])
    profiles: dict[str, dict[str, Any]] = {}
    for profile, body in merged["profiles"].items():
        if not isinstance(body, dict):
            compiler.problems.append(f"{_at(merged['profiles'], profile, names[0])}: profile {profile!r} must be a mapping")
            continue
        compiler.problems.extend(f"{_at(body, k, names[0])}: profile {profile!r}: unsupported key {k!r}" for k in body if k not in _PROFILE)
        configuration = body.get("configuration") or {}
        compiler.problems.extend(compiler.configuration(configuration, f"profiles.{profile}.configuration", names[0]))
        profiles[profile] = {
            "flows": compiler.flows(body.get("flows") or {}, f"{profile}/"),
            "forms": compiler.forms(body.get("forms") or {}),
            "configuration": configuration if isinstance(configuration, dict) else {},
        }
    every_flow = set(flows) | {f for p in profiles.values() for f in p["flows"]}
    every_form = set(forms) | {f for p in profiles.values() for f in p["forms"]}
    problems.extend(compiler.problems)
    problems.extend(compiler.references(every_flow, every_form))
    if not flows and not any(p["flows"] for p in profiles.values()):
        problems.append(f"{names[0]}: the project has no flows")
    if problems:
        raise WorkflowError("unsupported Concord project", problems)
    return Project(compiler.blocks, flows, forms, dict(merged["configuration"]), profiles, tuple(compiler.tasks))


def _at(mapping: Any, key: str, file: str) -> str:
    where = getattr(mapping, "keys_at", {}).get(key) or getattr(mapping, "where", None)
    return f"{where.file} (line {where.line})" if where else file


def _top_problems(name: str, document: dict[str, Any]) -> list[str]:
    problems = []
    for key in document:
        if key in _TOP_REFUSED:
            problems.append(f"{_at(document, key, name)}: {_TOP_REFUSED[key]}")
        elif key not in _TOP:
            problems.append(f"{_at(document, key, name)}: unknown section {key!r}")
    return problems


class _Compiler:
    """Turns flows into blocks of steps, collecting every problem with its place."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.blocks: dict[str, tuple[Step, ...]] = {}
        self.problems: list[str] = []
        self.tasks: list[tuple[str, Where]] = []
        self.calls: list[tuple[str, Where]] = []
        self.form_uses: list[tuple[str, Where, bool]] = []

    def at(self, where: Where) -> str:
        return f"{where.file} (line {where.line})"

    def configuration(self, configuration: Any, path: str, file: str) -> list[str]:
        if not isinstance(configuration, dict):
            return [f"{file}: {path} must be a mapping"]
        problems = []
        for key, value in configuration.items():
            spot = _at(configuration, key, file)
            if key in _CONFIG_REFUSED:
                problems.append(f"{spot}: configuration.{key}: {_CONFIG_REFUSED[key]}")
            elif key not in _CONFIG:
                problems.append(f"{spot}: configuration.{key} is not supported")
            elif key == "runtime" and value not in ("concord-v2",):
                problems.append(f"{spot}: configuration.runtime {value!r} is not supported; only concord-v2 flows run here")
            elif key == "arguments" and not isinstance(value, dict):
                problems.append(f"{spot}: configuration.arguments must be a mapping")
            elif key == "entryPoint" and not isinstance(value, str):
                problems.append(f"{spot}: configuration.entryPoint must be a flow name")
            elif key == "processTimeout" and parse_duration(value) is None:
                problems.append(f"{spot}: configuration.processTimeout must be an ISO-8601 duration such as PT1H")
        if isinstance(configuration.get("arguments"), dict):
            problems.extend(f"{spot}: {p}" for spot, p in self.template_problems(configuration["arguments"], configuration.where
                                                                                 if isinstance(configuration, Located) else None))
        return problems

    def template_problems(self, value: Any, where: Where | None) -> list[tuple[str, str]]:
        spot = self.at(where) if where else self.root
        try:
            templates(value)
        except ExpressionSyntaxError as e:
            return [(spot, f"invalid expression: {e}")]
        return []

    def flows(self, flows: dict[str, Any], prefix: str) -> dict[str, str]:
        names: dict[str, str] = {}
        for name, steps in flows.items():
            where = getattr(flows, "keys_at", {}).get(name) or Where(self.root, 0, 0)
            if not isinstance(steps, list) or not steps:
                self.problems.append(f"{self.at(where)}: flow {name!r} must be a non-empty list of steps")
                continue
            block = f"{prefix}{name}"
            names[name] = self.block(block, steps, where)
        return names

    def forms(self, forms: dict[str, Any]) -> dict[str, FormSpec]:
        out: dict[str, FormSpec] = {}
        for name, raw in forms.items():
            where = getattr(forms, "keys_at", {}).get(name)
            spec, problems = parse_form(name, raw, self.at(where) if where else self.root)
            self.problems.extend(problems)
            if spec is not None:
                out[name] = spec
        return out

    def block(self, block_id: str, steps: Any, where: Where) -> str:
        if not isinstance(steps, list):
            self.problems.append(f"{self.at(where)}: expected a list of steps")
            self.blocks[block_id] = ()
            return block_id
        at = getattr(steps, "items_at", None) or [where] * len(steps)
        compiled = [self.step(f"{block_id}[{n}]", raw, at[n]) for n, raw in enumerate(steps)]
        self.blocks[block_id] = tuple(s for s in compiled if s is not None)
        return block_id

    def step(self, step_id: str, raw: Any, where: Where) -> Step | None:
        if isinstance(raw, str):
            if raw in _STRING_STEPS:
                return Step(step_id, raw, where)
            if raw.strip().startswith("${"):
                return self.finish(Step(step_id, "expr", where, args={"expr": self.template(raw, where)}))
            self.problems.append(f"{self.at(where)}: unknown step {raw[:60]!r}")
            return None
        if not isinstance(raw, dict) or not raw:
            self.problems.append(f"{self.at(where)}: a step is a mapping such as `log: ...`")
            return None
        where = getattr(raw, "where", where)
        refused = [k for k in raw if k in _REFUSED_STEPS]
        if refused:
            self.problems.extend(f"{self.at(where)}: unsupported step {k!r}: {_REFUSED_STEPS[k]}" for k in refused)
            return None
        kinds = [k for k in raw if k in _KINDS]
        if len(kinds) != 1:
            what = f"keys {', '.join(repr(k) for k in list(raw)[:5])}" if not kinds else f"both {kinds[0]!r} and {kinds[1]!r}"
            self.problems.append(f"{self.at(where)}: unsupported step with {what}")
            return None
        kind = kinds[0]
        allowed = _KINDS[kind] | {kind}
        if kind != "switch":
            bad = [k for k in raw if k not in allowed]
            if bad:
                self.problems.extend(f"{self.at(where)}: step {kind!r}: unsupported option {k!r}" for k in bad)
                return None
        return getattr(self, f"_{kind}")(step_id, raw, where)

    # --- one method per kind ------------------------------------------------------------------

    def _common(self, step_id: str, kind: str, raw: dict[str, Any], where: Where, **parts: Any) -> Step:
        name = raw.get("name")
        loop = None
        if "withItems" in raw and "loop" in raw:
            self.problems.append(f"{self.at(where)}: use either withItems or loop, not both")
        elif "withItems" in raw:
            loop = self.values(raw["withItems"], where)
        elif "loop" in raw:
            spec = raw["loop"]
            if not isinstance(spec, dict) or "items" not in spec or set(spec) - _LOOP_KEYS:
                self.problems.append(f"{self.at(where)}: loop takes items (and mode: serial)")
            elif spec.get("mode", "serial") != "serial":
                self.problems.append(f"{self.at(where)}: loop mode {spec.get('mode')!r} is not supported; loops run serially")
            else:
                loop = self.values(spec["items"], where)
        retry = None
        if "retry" in raw:
            spec = raw["retry"]
            if not isinstance(spec, dict) or set(spec) - _RETRY_KEYS:
                self.problems.append(f"{self.at(where)}: retry takes times, delay and in")
            else:
                retry = {"times": self.values(spec.get("times", 1), where), "delay": self.values(spec.get("delay", 5), where),
                         "in": self.values(spec.get("in") or {}, where)}
        blocks = dict(parts.pop("blocks", {}))
        if "error" in raw:
            blocks["error"] = self.block(f"{step_id}.error", raw["error"], where)
        return self.finish(Step(step_id, kind, where, name=None if name is None else str(name), loop=loop, retry=retry,
                                blocks=blocks, **parts))

    def finish(self, step: Step) -> Step:
        return step

    def template(self, text: str, where: Where) -> Template:
        try:
            return parse_template(text)
        except ExpressionSyntaxError as e:
            self.problems.append(f"{self.at(where)}: invalid expression: {e}")
            return Template(("",))

    def values(self, value: Any, where: Where) -> Any:
        """A literal with every string parsed as a template (mappings and lists kept)."""
        if isinstance(value, str):
            return self.template(value, where)
        if isinstance(value, dict):
            return {str(k): self.values(v, getattr(value, "keys_at", {}).get(k, where)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.values(v, where) for v in value]
        return value

    def _log(self, step_id: str, raw: dict[str, Any], where: Where) -> Step:
        return self._common(step_id, "log", raw, where, args={"msg": self.values(raw["log"], where)})

    def _throw(self, step_id: str, raw: dict[str, Any], where: Where) -> Step:
        return self._common(step_id, "throw", raw, where, args={"msg": self.values(raw["throw"], where)})

    def _set(self, step_id: str, raw: dict[str, Any], where: Where) -> Step:
        values = raw["set"]
        if not isinstance(values, dict) or not values:
            self.problems.append(f"{self.at(where)}: set takes a mapping of variable names to values")
            values = {}
        for key in values:
            if not all(part.strip() for part in str(key).split(".")):
                self.problems.append(f"{self.at(where)}: set: {key!r} is not a variable name")
        return self._common(step_id, "set", raw, where, args={"vars": self.values(values, where)})

    def _expr(self, step_id: str, raw: dict[str, Any], where: Where) -> Step:
        if not isinstance(raw["expr"], str):
            self.problems.append(f"{self.at(where)}: expr takes an expression")
        out = raw.get("out")
        if out is not None and not isinstance(out, str):
            self.problems.append(f"{self.at(where)}: expr: out is a variable name")
        return self._common(step_id, "expr", raw, where, args={"expr": self.template(str(raw["expr"]), where), "out": out})

    def _if(self, step_id: str, raw: dict[str, Any], where: Where) -> Step:
        if "then" not in raw:
            self.problems.append(f"{self.at(where)}: if needs then")
        blocks = {k: self.block(f"{step_id}.{k}", raw[k], where) for k in ("then", "else") if k in raw}
        return self._common(step_id, "if", raw, where, args={"cond": self.values(raw["if"], where)}, blocks=blocks)

    def _switch(self, step_id: str, raw: dict[str, Any], where: Where) -> Step:
        cases, blocks = [], {}
        for key, body in raw.items():
            if key in ("switch", "name", "meta"):
                continue
            block = self.block(f"{step_id}.{key}", body, getattr(raw, "keys_at", {}).get(key, where))
            if key == "default":
                blocks["default"] = block
            else:
                cases.append((self.template(key, where), block))
        if not cases and "default" not in blocks:
            self.problems.append(f"{self.at(where)}: switch needs at least one case")
        return self._common(step_id, "switch", raw, where, args={"value": self.values(raw["switch"], where)},
                            blocks=blocks, cases=tuple(cases))

    def _call(self, step_id: str, raw: dict[str, Any], where: Where) -> Step:
        target = raw["call"]
        if not isinstance(target, str) or not target:
            self.problems.append(f"{self.at(where)}: call takes a flow name")
            target = ""
        template = self.template(target, where)
        if template.constant:
            self.calls.append((target, where))
        return self._common(step_id, "call", raw, where, args={
            "flow": template, "in": self.values(raw.get("in") or {}, where), "out": self.out(raw.get("out"), where)})

    def out(self, out: Any, where: Where) -> Any:
        if out is None or isinstance(out, str):
            return out
        if isinstance(out, list) and all(isinstance(o, str) for o in out):
            return list(out)
        if isinstance(out, dict):
            return {"map": self.values(out, where)}
        self.problems.append(f"{self.at(where)}: out is a variable name, a list of names or a mapping")
        return None

    def _task(self, step_id: str, raw: dict[str, Any], where: Where) -> Step:
        name = raw["task"]
        if not isinstance(name, str) or not name:
            self.problems.append(f"{self.at(where)}: task takes the name of a registered script")
            name = ""
        self.tasks.append((name, where))
        out = raw.get("out")
        if out is not None and not isinstance(out, str):
            self.problems.append(f"{self.at(where)}: task: out is a variable name")
        return self._common(step_id, "task", raw, where, args={
            "task": name, "in": self.values(raw.get("in") or {}, where), "out": out,
            "ignoreErrors": bool(raw.get("ignoreErrors", False))})

    def _form(self, step_id: str, raw: dict[str, Any], where: Where) -> Step:
        name = raw["form"]
        if not isinstance(name, str) or not name:
            self.problems.append(f"{self.at(where)}: form takes a form name")
            name = ""
        inline: tuple[FormField, ...] | None = None
        if "fields" in raw:
            spec, problems = parse_form(name, raw["fields"], self.at(where))
            self.problems.extend(problems)
            inline = spec.fields if spec else ()
        self.form_uses.append((name, where, inline is not None))
        values = raw.get("values") or {}
        if not isinstance(values, dict):
            self.problems.append(f"{self.at(where)}: form: values is a mapping of field names to values")
            values = {}
        return self._common(step_id, "form", raw, where, args={"form": name, "fields": inline,
                                                               "values": self.values(values, where)})

    def _suspend(self, step_id: str, raw: dict[str, Any], where: Where) -> Step:
        event = raw["suspend"]
        if not isinstance(event, str) or not event:
            self.problems.append(f"{self.at(where)}: suspend takes an event name")
        return self._common(step_id, "suspend", raw, where, args={"event": str(event)})

    def _try(self, step_id: str, raw: dict[str, Any], where: Where, kind: str = "try") -> Step:
        body = self.block(f"{step_id}.{kind}", raw[kind], where)
        return self._common(step_id, "try", raw, where, blocks={"try": body})

    def _block(self, step_id: str, raw: dict[str, Any], where: Where) -> Step:
        return self._try(step_id, raw, where, "block")

    def references(self, flows: set[str], forms: set[str]) -> list[str]:
        problems = [f"{self.at(w)}: call to unknown flow {name!r}" for name, w in self.calls if name not in flows]
        problems += [f"{self.at(w)}: form {name!r} is not declared in forms" for name, w, inline in self.form_uses
                     if not inline and name not in forms]
        return problems


def templates(value: Any) -> list[Template]:
    """Every string of a literal parsed as a template (ExpressionSyntaxError on the first bad one)."""
    if isinstance(value, str):
        return [parse_template(value)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in templates(v)]
    if isinstance(value, list):
        return [t for v in value for t in templates(v)]
    return []


def parse_duration(value: Any) -> float | None:
    """Seconds in an ISO-8601 duration (`PT1H30M`, `P1D`, `PT0.5S`), or None when it is not one."""
    if not isinstance(value, str):
        return None
    m = re.fullmatch(r"P(?:(\d{1,6})D)?(?:T(?:(\d{1,6})H)?(?:(\d{1,6})M)?(?:(\d{1,9}(?:\.\d{1,3})?)S)?)?", value.strip().upper())
    if m is None or value.strip().upper() in ("P", "PT") or not any(m.groups()):
        return None
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in m.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


__all__ = ["FormField", "FormSpec", "Project", "ProjectView", "Step", "deep_merge", "is_project_file", "load_project",
           "parse_duration", "parse_field", "project_files"]
