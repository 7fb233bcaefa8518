"""The interpreter of compiled Concord flows: a small stack machine that pauses on people and tasks.

The machine runs steps until the flow ends, fails, or must wait (a form, a `suspend` event, a
registered script's run). Every effect goes through a `Sink` (the instance aggregate), which
records it as an event; the machine's own position is a JSON-able stack of frames, handed to the
sink when it pauses and handed back on resume. So the instance's history alone says where the
flow stands and what its variables are.

Frames: `{"b": block id, "pc": next step, "vars": locals, "call": step id, "catch": step id,
"loop": {"items": [...], "i": n}}`. Scoping: a lookup reads locals from the innermost frame out,
then the process variables; `in` values of a `call` and a loop's `item`/`itemIndex` are locals;
`set` writes a local when one of that name is in scope, else a process variable; a call's `out`
copies the named values back to the caller.

Invariant: deterministic; the same program, frames, variables and inputs give the same effects.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from events.concord.forms import FormField, FormSpec
from events.concord.project import ProjectView, Step, deep_merge
from events.expressions.el import ExpressionError, Template, UndefinedVariable, render, to_text
from events.variables import NotAMapping, with_path

INFO, WARN, ERROR = "INFO", "WARN", "ERROR"


@dataclass(frozen=True)
class RunLimits:
    """Caps on one process: steps executed in all, nested calls, and items of one loop."""

    step_budget: int = 10_000
    max_call_depth: int = 100
    max_loop_items: int = 10_000


class FlowError(Exception):
    """A step failed; the message is what the log and `lastError` say."""

    def __init__(self, message: str, step: Step | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.step = step


class Sink(Protocol):
    """What the machine needs from the aggregate: reads, and effects it records as events."""

    @property
    def variables(self) -> dict[str, Any]: ...
    @property
    def steps_run(self) -> int: ...
    @property
    def builtins(self) -> dict[str, Any]: ...
    def step_started(self, step: Step) -> None: ...
    def step_ended(self, step: Step, outcome: str) -> None: ...
    def set_variables(self, values: dict[str, Any]) -> None: ...
    def log(self, level: str, text: str) -> None: ...
    def wait_form(self, step: Step, form: str, fields: list[dict[str, Any]], frames: list[dict[str, Any]]) -> None: ...
    def wait_task(self, step: Step, task: str, parameters: dict[str, Any], attempt: int, frames: list[dict[str, Any]],
                  delay: float = 0.0) -> None: ...
    def wait_event(self, step: Step, event: str, frames: list[dict[str, Any]]) -> None: ...
    def finish(self) -> None: ...
    def fail(self, message: str) -> None: ...


def error_line(step: Step | None, message: str) -> str:
    """Concord's error line: `(file): Error @ line: 3, col: 7. message`."""
    if step is None:
        return message
    return f"({step.where.file}): Error @ line: {step.where.line}, col: {step.where.column}. {message}"


class Machine:
    """Runs one process's flows from a stack of frames; see the module docstring."""

    def __init__(self, view: ProjectView, sink: Sink, frames: list[dict[str, Any]], limits: RunLimits) -> None:
        self.view = view
        self.sink = sink
        self.frames = frames
        self.limits = limits
        self.steps: dict[str, Step] = {}

    # --- entry points ------------------------------------------------------------------------

    def start(self, flow: str, arguments: dict[str, Any]) -> None:
        """Set the arguments, enter `flow` and run."""
        values: dict[str, Any] = {}
        for key, value in arguments.items():
            values[key] = self.evaluate(value, extra=values) if not isinstance(value, (int, float, bool, type(None))) else value
        if values:
            self.sink.set_variables(values)
        self.frames.append({"b": self.view.flows[flow], "pc": 0})
        self.run()

    def run(self) -> None:
        """Execute until the flow ends, fails or waits."""
        while self.frames:
            frame = self.frames[-1]
            block = self.view.block(frame["b"])
            if frame["pc"] >= frame.get("stop", len(block)):
                try:
                    self.leave(frame)
                except FlowError as e:
                    if not self.handle(e):
                        return
                continue
            if self.sink.steps_run >= self.limits.step_budget:
                self.fail(FlowError(f"the process ran {self.limits.step_budget} steps, its step budget "
                                    "(an endless loop or recursion?)", block[frame["pc"]]))
                return
            step = block[frame["pc"]]
            frame["pc"] += 1
            try:
                if self.execute(step):
                    return  # waiting
            except FlowError as e:
                if not self.handle(e):
                    return
        self.sink.finish()

    def resume_task(self, step: Step, result: dict[str, Any] | None, error: str | None, attempt: int) -> None:
        """A task's run ended: store its result (or handle its failure) and run on."""
        try:
            if error is None:
                if step.args.get("out"):
                    self.assign(step.args["out"], {"ok": True, **(result or {})})
                self.sink.step_ended(step, "completed")
            else:
                self.task_failed(step, error, attempt)
                return
        except FlowError as e:
            if not self.handle(e):
                return
        self.run()

    def resume_form(self, step: Step, values: dict[str, Any]) -> None:
        """A form was submitted: its values become the variable named after the form; run on."""
        self.sink.step_ended(step, "submitted")
        self.sink.set_variables({step.args["form"]: values})
        self.run()

    def resume_event(self, step: Step) -> None:
        """The event a `suspend` waited for arrived; run on."""
        self.sink.step_ended(step, "resumed")
        self.run()

    def raise_in(self, step: Step, message: str) -> None:
        """Fail a waiting step (as if it raised), then run on from wherever the error lands."""
        if self.handle(FlowError(message, step)):
            self.run()

    # --- steps ------------------------------------------------------------------------------

    def execute(self, step: Step) -> bool:
        """Run one step; True when the flow now waits."""
        if step.loop is not None and not self.frames[-1].get("looping") == step.id:
            return self.begin_loop(step)
        self.sink.step_started(step)
        try:
            waiting = getattr(self, f"_{step.kind}")(step)
        except FlowError as e:
            self.sink.step_ended(step, "failed")
            if step.kind in ("expr", "task") and "error" in step.blocks:
                self.catch(step, e)
                return False
            raise
        if not waiting and step.kind not in ("call", "try", "if", "switch", "return", "exit"):
            self.sink.step_ended(step, "completed")
        return waiting

    def _log(self, step: Step) -> bool:
        self.sink.log(INFO, to_text(self.evaluate(step.args["msg"], step=step), in_template=True))
        return False

    def _throw(self, step: Step) -> bool:
        raise FlowError(to_text(self.evaluate(step.args["msg"], step=step)), step)

    def _set(self, step: Step) -> bool:
        for key, value in step.args["vars"].items():
            self.assign(key, self.evaluate(value, step=step), step)
        return False

    def _expr(self, step: Step) -> bool:
        value = self.evaluate(step.args["expr"], step=step)
        if step.args.get("out"):
            self.assign(step.args["out"], value, step)
        return False

    def _if(self, step: Step) -> bool:
        value = self.evaluate(step.args["cond"], step=step)
        if not isinstance(value, bool):
            if isinstance(value, str) and value.lower() in ("true", "false"):
                value = value.lower() == "true"
            else:
                raise FlowError(f"if: expected a boolean, got {to_text(value)}", step)
        branch = step.blocks.get("then" if value else "else")
        self.sink.step_ended(step, "then" if value else "else")
        if branch:
            self.frames.append({"b": branch, "pc": 0})
        return False

    def _switch(self, step: Step) -> bool:
        value = self.evaluate(step.args["value"], step=step)
        for label, block in step.cases:
            if to_text(self.evaluate(label, step=step)) == to_text(value):
                self.sink.step_ended(step, to_text(value))
                self.frames.append({"b": block, "pc": 0})
                return False
        self.sink.step_ended(step, "default")
        if "default" in step.blocks:
            self.frames.append({"b": step.blocks["default"], "pc": 0})
        return False

    def _call(self, step: Step) -> bool:
        flow = to_text(self.evaluate(step.args["flow"], step=step))
        if flow not in self.view.flows:
            raise FlowError(f"flow '{flow}' not found", step)
        depth = sum(1 for f in self.frames if "call" in f)
        if depth >= self.limits.max_call_depth:
            raise FlowError(f"calls nested deeper than {self.limits.max_call_depth} (a recursive call?)", step)
        inputs = self.evaluate(step.args["in"], step=step) if step.args["in"] else {}
        frame: dict[str, Any] = {"b": self.view.flows[flow], "pc": 0, "vars": dict(inputs), "call": step.id}
        if "error" in step.blocks:
            frame["catch"] = step.id
        self.frames.append(frame)
        return False

    def _try(self, step: Step) -> bool:
        frame: dict[str, Any] = {"b": step.blocks["try"], "pc": 0, "group": step.id}
        if "error" in step.blocks:
            frame["catch"] = step.id
        self.frames.append(frame)
        return False

    def _form(self, step: Step) -> bool:
        name = step.args["form"]
        spec = self.form_spec(step)
        given = self.evaluate(step.args["values"], step=step) if step.args["values"] else {}
        current = self.lookup(name)[1]
        fields = []
        for f in spec.fields:
            value = given.get(f.name) if f.name in given else (
                self.evaluate(f.value, step=step) if f.value is not None else
                current.get(f.name) if isinstance(current, Mapping) else None)
            allow = self.evaluate(f.allow, step=step) if isinstance(f.allow, (str, list)) else f.allow
            fields.append({"name": f.name, "label": f.label, "type": f.type, "cardinality": f.cardinality,
                           "value": value, "allowedValue": allow, "options": field_options(f)})
        self.sink.wait_form(step, name, fields, self.frames)
        return True

    def _suspend(self, step: Step) -> bool:
        self.sink.wait_event(step, step.args["event"], self.frames)
        return True

    def _task(self, step: Step) -> bool:
        parameters = self.evaluate(step.args["in"], step=step) if step.args["in"] else {}
        self.sink.wait_task(step, step.args["task"], parameters, 1, self.frames)
        return True

    def _return(self, step: Step) -> bool:
        self.sink.step_ended(step, "completed")
        while self.frames:
            frame = self.frames[-1]
            if "call" in frame:
                frame["pc"] = len(self.view.block(frame["b"]))  # leave() then copies `out` and pops
                return False
            self.frames.pop()
        return False

    def _exit(self, step: Step) -> bool:
        self.sink.step_ended(step, "completed")
        self.frames.clear()
        return False

    # --- loops, calls and errors -------------------------------------------------------------

    def begin_loop(self, step: Step) -> bool:
        items = self.evaluate(step.loop, step=step)
        if isinstance(items, Mapping):
            items = [{"key": k, "value": v} for k, v in items.items()]
        if items is None:
            items = []
        if not isinstance(items, list):
            raise FlowError(f"withItems: expected a list or a mapping, got {to_text(items)}", step)
        if len(items) > self.limits.max_loop_items:
            raise FlowError(f"withItems: {len(items)} items; the limit is {self.limits.max_loop_items}", step)
        if items:
            # The loop frame re-runs this one step of the parent's block, once per item.
            parent = self.frames[-1]
            at = parent["pc"] - 1
            self.frames.append({"b": parent["b"], "pc": at, "stop": at + 1, "looping": step.id,
                                "vars": {"item": items[0], "itemIndex": 0}, "loop": {"items": items, "i": 0}})
        return False

    def leave(self, frame: dict[str, Any]) -> None:
        """A frame ran out of steps: next loop item, copy a call's `out`, or pop."""
        if "loop" in frame:
            loop = frame["loop"]
            loop["i"] += 1
            if loop["i"] < len(loop["items"]):
                frame["pc"] = frame["stop"] - 1
                frame["vars"].update(item=loop["items"][loop["i"]], itemIndex=loop["i"])
                return
            self.frames.pop()
            return
        if "call" in frame:
            step = self.step(frame["call"])
            outs = self.call_outputs(step)
            self.frames.pop()
            self.sink.step_ended(step, "completed")
            for name, value in outs.items():
                self.assign(name, value, step)
            return
        self.frames.pop()
        if "group" in frame:
            self.sink.step_ended(self.step(frame["group"]), "completed")

    def call_outputs(self, step: Step) -> dict[str, Any]:
        out = step.args.get("out")
        if not out:
            return {}
        if isinstance(out, dict):
            return {k: self.evaluate(v, step=step) for k, v in out["map"].items()}
        names = [out] if isinstance(out, str) else out
        values = {}
        for name in names:
            found, value = self.lookup(name)
            if found:
                values[name] = value
        return values

    def handle(self, error: FlowError) -> bool:
        """Unwind to the nearest error block; False (and the process failed) when there is none."""
        while self.frames:
            frame = self.frames.pop()
            opened = frame.get("call") or frame.get("group")
            if opened:
                self.sink.step_ended(self.step(opened), "failed")
            if "catch" in frame:
                self.catch(self.step(frame["catch"]), error)
                return True
        self.fail(error)
        return False

    def catch(self, step: Step, error: FlowError) -> None:
        """Run a step's error block with `lastError` set."""
        self.assign("lastError", {"message": error.message})
        self.frames.append({"b": step.blocks["error"], "pc": 0})

    def task_failed(self, step: Step, error: str, attempt: int) -> None:
        retry = step.retry
        if retry is not None:
            times = self.evaluate(retry["times"], step=step)
            if isinstance(times, (int, str)) and attempt <= int(to_text(times) or 0):
                delay = _seconds(self.evaluate(retry["delay"], step=step), step)
                self.sink.log(WARN, f"task {step.args['task']} failed ({error}); retry {attempt} of {times}"
                                    f" in {to_text(delay)} s")
                parameters = self.evaluate(step.args["in"], step=step) if step.args["in"] else {}
                extra = self.evaluate(retry["in"], step=step) if retry["in"] else {}
                self.sink.wait_task(step, step.args["task"], deep_merge(parameters, extra), attempt + 1, self.frames, delay)
                return
        if step.args.get("ignoreErrors"):
            if step.args.get("out"):
                self.assign(step.args["out"], {"ok": False, "error": error})
            self.sink.step_ended(step, "failed")
            self.run()
            return
        failure = FlowError(f"task {step.args['task']} failed: {error}", step)
        if "error" in step.blocks:
            self.sink.step_ended(step, "failed")
            self.catch(step, failure)
            self.run()
        elif self.handle(failure):
            self.run()

    def fail(self, error: FlowError) -> None:
        """The process failed: log Concord's error line and record the failure."""
        line = error_line(error.step, error.message)
        self.sink.log(ERROR, line)
        self.frames.clear()
        self.sink.fail(line)

    # --- variables ----------------------------------------------------------------------------

    def lookup(self, name: str, extra: dict[str, Any] | None = None) -> tuple[bool, Any]:
        if extra is not None and name in extra:
            return True, extra[name]
        for frame in reversed(self.frames):
            scope = frame.get("vars")
            if scope is not None and name in scope:
                return True, scope[name]
        variables = self.sink.variables
        if name in variables:
            return True, variables[name]
        builtins = self.sink.builtins
        return (True, builtins[name]) if name in builtins else (False, None)

    def evaluate(self, value: Any, *, step: Step | None = None, extra: dict[str, Any] | None = None) -> Any:
        """A literal with its templates rendered against the current scope."""
        try:
            return self._render(value, lambda name: self.lookup(name, extra))
        except UndefinedVariable as e:
            source = _source_of(value)
            raise FlowError(f"Can't find a variable '{e.name}' used in '{source}'. "
                            "Check if it is defined in the current scope.", step) from None
        except ExpressionError as e:
            raise FlowError(str(e), step) from None

    def _render(self, value: Any, resolve: Any) -> Any:
        if isinstance(value, Template):
            return render(value, resolve)
        if isinstance(value, str) and "${" in value:
            from events.expressions.el import parse_template  # arguments arrive as plain text

            try:
                return render(parse_template(value), resolve)
            except ValueError as e:
                if isinstance(e, ExpressionError):
                    raise
                raise ExpressionError(f"invalid expression in {value[:80]!r}: {e}") from None
        if isinstance(value, Mapping):
            return {k: self._render(v, resolve) for k, v in value.items()}
        if isinstance(value, list):
            return [self._render(v, resolve) for v in value]
        return value

    def assign(self, key: str, value: Any, step: Step | None = None) -> None:
        """`set` semantics: a dotted key updates nested data; a local in scope wins over a process variable."""
        head, *rest = key.split(".")
        for frame in reversed(self.frames):
            scope = frame.get("vars")
            if scope is not None and head in scope:
                scope[head] = _nested(scope[head], rest, value, key, step)
                return
        if rest:
            _nested(copy.deepcopy(self.sink.variables.get(head)), rest, value, key, step)  # refuse before recording
        self.sink.set_variables({key: value})

    def step(self, step_id: str) -> Step:
        """A step of the program by id."""
        if not self.steps:
            self.steps = {s.id: s for block in self.view.project.blocks.values() for s in block}
        return self.steps[step_id]

    def form_spec(self, step: Step) -> FormSpec:
        """The form a `form` step shows: its inline fields, or the declared form of that name."""
        if step.args.get("fields") is not None:
            return FormSpec(step.args["form"], tuple(step.args["fields"]))
        spec = self.view.forms.get(step.args["form"])
        if spec is None:
            raise FlowError(f"form '{step.args['form']}' not found", step)
        return spec


def field_options(f: FormField) -> dict[str, Any]:
    """The options Concord lists for a field (only those set)."""
    options = {"pattern": f.pattern, "min": f.min, "max": f.max, "placeholder": f.placeholder,
               "readOnly": f.readonly or None, **f.options}
    return {k: v for k, v in options.items() if v is not None}


def _nested(current: Any, path: list[str], value: Any, key: str, step: Step | None) -> Any:
    try:
        return with_path(current, path, value, key)
    except NotAMapping as e:
        raise FlowError(str(e), step) from None


def _source_of(value: Any) -> str:
    if isinstance(value, Template):
        return "".join(p if isinstance(p, str) else p.source for p in value.parts)
    return to_text(value)

MAX_RETRY_DELAY_SECONDS = 86_400


def _seconds(value: Any, step: Step) -> float:
    """A retry's `delay`: whole or decimal seconds, from 0 to a day."""
    try:
        seconds = float(to_text(value)) if not isinstance(value, bool) else -1.0
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_RETRY_DELAY_SECONDS:
        raise FlowError(f"retry delay must be a number of seconds from 0 to {MAX_RETRY_DELAY_SECONDS}, got {to_text(value)}", step)
    return int(seconds) if seconds.is_integer() else seconds
