"""Events stored by earlier code still load: their topics name the same classes, their state folds the same.

The event store keeps each event's topic (`events.instance:ProcessInstance.Created`) and hashes
it into the chain, so moving an event class is a schema change. The fixture holds instance
events recorded before the engines moved into `events/flows/` and `events/concord/` (a BPMN run
with a worker's task, a Hackney state machine stopped and deleted, a Concord run through a form,
a task and a `suspend`, and a Concord run that timed out), with the state the old code folded
them into.
"""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from events.instance import ProcessInstance
from events.instance_state import ROOT_TOKEN
from infra.transcoder import create_mapper

FIXTURE = Path(__file__).parents[1] / "fixtures" / "stored" / "instance-events-2026-12.json"
CASES = json.loads(FIXTURE.read_text())


def summary(i: ProcessInstance) -> dict:
    return {"status": str(i.status), "element": i.element, "variables": i.variables, "form_data": i.form_data,
            "documents": i.documents, "assignment": i.assignment, "results": i.results, "output_lines": i.output_lines,
            "files": i.files, "forms_waiting": i.forms_waiting, "failure": i.failure, "flow": i.flow,
            "visits": [[v.kind, v.element_id, v.outcome] for v in i.visits], "steps_run": i.steps_run,
            "deadline": i.deadline.isoformat() if i.deadline else None, "deleted": i.deleted}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_instance_events_stored_under_the_old_layout_fold_into_the_same_state(case: dict) -> None:
    mapper = create_mapper()
    instance = None
    for row in case["events"]:
        stored = StoredEvent(UUID(row["originator_id"]), row["originator_version"], row["topic"], row["state"].encode())
        instance = mapper.to_domain_event(stored).mutate(instance)

    assert isinstance(instance, ProcessInstance)
    assert json.loads(json.dumps(summary(instance), default=str)) == case["expect"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_task_events_recorded_before_tokens_name_the_root_token(case: dict) -> None:
    mapper = create_mapper()
    events = [mapper.to_domain_event(StoredEvent(UUID(r["originator_id"]), r["originator_version"], r["topic"],
                                                 r["state"].encode())) for r in case["events"]]

    tokens = {e.token for e in events if hasattr(e, "element_id") or isinstance(e, ProcessInstance.Ended)}
    assert tokens == {ROOT_TOKEN}


def test_every_instance_event_class_keeps_the_topic_the_store_knows_it_by() -> None:
    stored = {row["topic"] for case in CASES for row in case["events"]}
    current = {get_topic(v) for v in vars(ProcessInstance).values() if isinstance(v, type) and issubclass(v, Aggregate.Event)}

    assert stored <= current
    assert all(topic.startswith("events.instance:ProcessInstance.") for topic in current)
