"""Property tests: random state machines and random calls against a small reference interpreter.

The engine must agree with the reference after every call, refuse exactly what the reference
refuses without recording anything, and replaying its events must rebuild the same state.
"""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from events.flows.engine import FlowConflict, InvalidTrigger
from events.instance import ProcessInstance
from events.instance_state import InstanceStatus
from events.workflow import compile_workflow

TRIGGERS = ["T0", "T1", "T2"]


@st.composite
def state_machines(draw: st.DrawFn) -> dict[str, Any]:
    """A random valid state machine: some waiting states, at least one final state."""
    waiting = [f"S{i}" for i in range(draw(st.integers(1, 4)))]
    final = [f"F{i}" for i in range(draw(st.integers(1, 2)))]
    everything = waiting + final
    states: dict[str, Any] = {}
    for name in waiting:
        triggers: dict[str, Any] = {}
        for trigger in draw(st.lists(st.sampled_from(TRIGGERS), min_size=1, max_size=3, unique=True)):
            if draw(st.booleans()):
                triggers[trigger] = draw(st.sampled_from(everything))
            else:
                limit = draw(st.integers(0, 5))
                triggers[trigger] = [
                    {"when": f"x > {limit}", "target": draw(st.sampled_from(everything))},
                    {"target": draw(st.sampled_from(everything))},
                ]
        spec: dict[str, Any] = {"triggers": triggers}
        requires = draw(st.sampled_from([None, {"formData": ["x"]}, {"documents": 1}]))
        if requires:
            spec["requires"] = requires
        states[name] = spec
    for name in final:
        states[name] = {"final": True}
    return {"initialState": waiting[0], "states": states}


class Reference:
    """The obvious interpreter of the same format, written without the engine."""

    def __init__(self, workflow: dict[str, Any]) -> None:
        self.states = workflow["states"]
        self.state = workflow["initialState"]
        self.form: dict[str, Any] = {}
        self.documents: list[str] = []

    @property
    def finished(self) -> bool:
        return bool(self.states[self.state].get("final"))

    def fire(self, trigger: str) -> str:
        spec = self.states[self.state]
        if self.finished or trigger not in spec["triggers"]:
            return "invalid"
        requires = spec.get("requires", {})
        if "formData" in requires and self.form.get("x") is None:
            return "refused"
        if len(self.documents) < requires.get("documents", 0):
            return "refused"
        target = spec["triggers"][trigger]
        if isinstance(target, list):
            limit = int(target[0]["when"].split(">")[1])
            x = self.form.get("x")
            target = target[0]["target"] if x is not None and x > limit else target[1]["target"]
        self.state = target
        return "ok"


class InstanceMachine(RuleBasedStateMachine):
    """Drives one instance and its reference with the same calls."""

    @initialize(workflow=state_machines())
    def begin(self, workflow: dict[str, Any]) -> None:
        self.graph = compile_workflow({"workflow": workflow})
        self.reference = Reference(workflow)
        self.instance = ProcessInstance(
            definition_id="d", definition_key="k", definition_version=1, initiator="u", owner=None, target_id=None,
            parameters={}, form_data={}, documents=[], assignment={}, attributes={},
        )
        self.instance.start(self.graph, None, "u")
        self.events = list(self.instance.collect_events())

    @rule(trigger=st.sampled_from(TRIGGERS))
    def fire(self, trigger: str) -> None:
        version = self.instance.version
        expected = self.reference.fire(trigger)
        try:
            self.instance.fire(self.graph, trigger, "u")
            outcome = "ok"
        except InvalidTrigger:
            outcome = "invalid"
        except FlowConflict:
            outcome = "refused"
        assert outcome == expected
        if outcome != "ok":
            assert self.instance.version == version
        self.events.extend(self.instance.collect_events())

    @rule(x=st.integers(0, 6))
    def submit(self, x: int) -> None:
        if self.reference.finished:
            return
        self.instance.submit({"x": x}, "u")
        self.reference.form["x"] = x
        self.events.extend(self.instance.collect_events())

    @rule(document=st.sampled_from(["a", "b"]))
    def attach(self, document: str) -> None:
        self.instance.attach([document], "u")
        if document not in self.reference.documents:
            self.reference.documents.append(document)
        self.events.extend(self.instance.collect_events())

    @invariant()
    def agrees_with_the_reference(self) -> None:
        assert self.instance.element == self.reference.state
        assert self.instance.form_data == self.reference.form
        assert self.instance.documents == self.reference.documents
        finished = self.instance.status is InstanceStatus.COMPLETED
        assert finished == self.reference.finished

    @invariant()
    def replaying_the_events_gives_the_same_state(self) -> None:
        rebuilt = None
        for event in self.events:
            rebuilt = event.mutate(rebuilt)
        assert vars(rebuilt) == vars(self.instance)


InstanceMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=25, deadline=None)
test_instances_agree_with_the_reference_and_replay_identically = InstanceMachine.TestCase
