"""Every event the domain records has a published contract that its data satisfies."""

from __future__ import annotations

import dataclasses

import pytest
from eventsourcing.domain import Aggregate

from contracts.published import PUBLISHED, asyncapi_document
from events.definition import ProcessDefinition
from events.instance import ProcessInstance
from events.process_key import ProcessKey

_ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic"}
AGGREGATES = (ProcessDefinition, ProcessKey, ProcessInstance)


def recorded_event_classes() -> list[type]:
    """The event classes each aggregate records (not the library's generated bases)."""
    classes = []
    for aggregate in AGGREGATES:
        members = [v for v in vars(aggregate).values() if isinstance(v, type) and issubclass(v, Aggregate.Event)]
        own_created = any(issubclass(v, Aggregate.Created) and v.__name__ != "Created" for v in members)
        for value in members:
            if value.__name__ == "Event" or (value.__name__ == "Created" and own_created):
                continue
            classes.append(value)
    return classes


@pytest.mark.parametrize("event_class", recorded_event_classes(), ids=lambda c: c.__qualname__)
def test_every_domain_event_has_a_contract_with_the_same_fields(event_class):
    contract = PUBLISHED.get(event_class.__qualname__)
    assert contract is not None, f"add {event_class.__qualname__} to contracts/published.py"
    fields = {f.name for f in dataclasses.fields(event_class)} - _ENVELOPE
    assert set(contract.model_fields) == fields


def test_the_asyncapi_document_has_a_channel_per_aggregate_and_every_message():
    document = asyncapi_document("procession", "test")
    assert document["asyncapi"] == "3.0.0"
    assert {c["address"] for c in document["channels"].values()} == {
        "procession.ProcessDefinition", "procession.ProcessKey", "procession.ProcessInstance"}
    assert len(document["components"]["messages"]) == len(PUBLISHED)
