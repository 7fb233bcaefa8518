"""Mapping stored events to published CloudEvents: the edge between `events/` and `contracts/`."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from infra.event_store import RecordedEvent

_ENVELOPE_FIELDS = {"originator_id", "originator_version", "timestamp", "originator_topic"}
_EVENT_ID_NAMESPACE = uuid.UUID("0c8c43e2-7a6a-4b64-8f0b-5c1f9f3d2e11")


def event_type(topic: str) -> str:
    """`events.definition:ProcessDefinition.VersionCreated` → `ProcessDefinition.VersionCreated`."""
    return topic.partition(":")[2]


def event_id(aggregate_id: uuid.UUID, version: int) -> str:
    """A stable id per stored event, the same on every re-delivery."""
    return str(uuid.uuid5(_EVENT_ID_NAMESPACE, f"{aggregate_id}:{version}"))


def event_data(event: Any) -> dict[str, Any]:
    """A domain event's own fields, as JSON values."""
    fields = {k: v for k, v in vars(event).items() if k not in _ENVELOPE_FIELDS}
    return orjson.loads(orjson.dumps(fields, default=str))


def to_cloudevent(recorded: RecordedEvent, event: Any, source: str) -> dict[str, Any]:
    """The CloudEvents 1.0 message for one stored event."""
    return {
        "specversion": "1.0",
        "id": event_id(recorded.originator_id, recorded.originator_version),
        "source": source,
        "type": f"procession.{event_type(recorded.topic)}",
        "subject": str(recorded.originator_id),
        "time": event.timestamp.isoformat(),
        "datacontenttype": "application/json",
        "streamversion": recorded.originator_version,
        "globalposition": recorded.position,
        "data": event_data(event),
    }


def topic_for(prefix: str, recorded: RecordedEvent) -> str:
    """The Kafka topic of an event: one per aggregate type."""
    return f"{prefix}.{event_type(recorded.topic).partition('.')[0]}"
