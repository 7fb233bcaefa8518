"""What procession publishes to Kafka: CloudEvents 1.0 envelopes and the data of each event type.

Consumers rely on these shapes; the service serves them as JSON Schemas and in an AsyncAPI
document. An event type is `<Aggregate>.<Event>`; its topic is `<prefix>.<Aggregate>`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class CloudEvent(BaseModel):
    """The envelope of every published message (structured mode, JSON)."""

    model_config = ConfigDict(extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(description="The event's id: stable across re-deliveries, so consumers can drop duplicates")
    source: str
    type: str = Field(description="procession.<Aggregate>.<Event>")
    subject: str = Field(description="The aggregate id; also the Kafka message key")
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    streamversion: int = Field(description="The event's version within its aggregate's stream")
    globalposition: int = Field(description="The event's position in the global order")
    data: dict[str, Any]


def _token() -> Any:
    # Task-level events name the token (execution) at their element; older events read the root token.
    return Field("1", description='The token (execution) at the element: "1" is the root token, which events recorded before tokens read')


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DefinitionRegistered(_Data):
    key: str
    user: str


class DefinitionVersionCreated(_Data):
    version: int
    configuration: dict[str, Any]
    user: str


class DefinitionTagged(_Data):
    tag: str
    version: int
    user: str


class DefinitionTagRemoved(_Data):
    tag: str
    user: str


class DefinitionRenamed(_Data):
    old_key: str
    new_key: str
    user: str


class DefinitionVersionRemoved(_Data):
    version: int
    user: str


class DefinitionDeleted(_Data):
    user: str


class KeyOpened(_Data):
    key: str


class KeyClaimed(_Data):
    definition_id: str


class KeyReleased(_Data):
    definition_id: str


class InstanceCreated(_Data):
    definition_id: str
    definition_key: str
    definition_version: int
    initiator: str
    owner: str | None
    target_id: str | None
    parameters: dict[str, Any]
    form_data: dict[str, Any]
    documents: list[str]
    assignment: dict[str, Any]
    attributes: dict[str, Any]


class InstanceScheduled(_Data):
    start_at: datetime
    user: str


class InstanceStarted(_Data):
    start_event: str
    user: str


class InstanceTaskStarted(_Data):
    element_id: str
    kind: str
    name: str | None
    task_type: str | None
    via: list[str]
    triggers: list[str]
    assignment: dict[str, Any] | None
    user: str
    token: str = _token()


class InstanceTaskEnded(_Data):
    element_id: str
    action: str | None
    trigger: str | None
    user: str
    token: str = _token()


class InstanceTaskAbandoned(_Data):
    element_id: str
    action: str | None
    user: str
    token: str = _token()


class InstanceEnded(_Data):
    end_event: str
    via: list[str]
    user: str
    token: str = _token()


class InstanceTokenForked(_Data):
    element_id: str
    token: str
    children: list[str]
    flows: list[str]
    user: str


class InstanceTokenArrived(_Data):
    element_id: str
    via: list[str]
    token: str
    user: str


class InstanceTokensJoined(_Data):
    element_id: str
    joined: list[str]
    token: str
    user: str


class InstanceTokenEnded(_Data):
    end_event: str
    via: list[str]
    token: str
    user: str


class InstanceFormDataSubmitted(_Data):
    form_data: dict[str, Any]
    user: str


class InstanceDocumentAttached(_Data):
    document: str
    user: str


class InstanceAssignmentChanged(_Data):
    assignment: dict[str, Any]
    user: str


class InstanceAutomatedTaskRequested(_Data):
    element_id: str
    script: str
    parameters: dict[str, Any]
    delay_seconds: float = Field(0.0, description="No run starts before this many seconds after the event (a retry's delay)")
    token: str = _token()


class InstanceAutomatedTaskCompleted(_Data):
    element_id: str
    result: dict[str, Any]
    token: str = _token()


class InstanceAutomatedTaskFailed(_Data):
    element_id: str
    error: str
    token: str = _token()


class InstanceOutputAppended(_Data):
    lines: list[list[str]] = Field(description="[ISO timestamp, stream, text] per console line")


class InstanceFileAttached(_Data):
    name: str
    size: int
    media_type: str
    digest: str = Field(description="SHA-256 of the content, hex")
    kind: str


class InstanceStopRequested(_Data):
    user: str
    reason: str | None


class InstanceStopped(_Data):
    user: str
    reason: str | None


class InstanceFailed(_Data):
    reason: str


class InstanceDeleted(_Data):
    user: str
    reason: str | None


class InstanceFlowStarted(_Data):
    flow: str = Field(description="The Concord flow entered")
    profiles: list[str]
    timeout_seconds: float | None
    limits: dict[str, Any]
    handlers: list[str] | None = Field(None, description="The flows started as new processes if this one fails, "
                                                         "is cancelled or times out (onFailure, onCancel, onTimeout)")


class InstanceFlowStepStarted(_Data):
    step_id: str = Field(description="The step's place in the project, e.g. default[2].then[0]")
    kind: str
    name: str | None
    file: str
    line: int


class InstanceFlowStepEnded(_Data):
    step_id: str
    outcome: str


class InstanceVariablesSet(_Data):
    values: dict[str, Any] = Field(description="Variable name (dotted for nested data) to value")


class InstanceFlowPaused(_Data):
    wait: dict[str, Any] = Field(description="What the flow waits on: a form, an event or a task")
    frames: list[dict[str, Any]] = Field(description="Where the flow resumes (the interpreter's stack)")


class InstanceFormWaiting(_Data):
    form: str
    step_id: str
    fields: list[dict[str, Any]]


class InstanceFormSubmitted(_Data):
    form: str
    values: dict[str, Any]
    user: str


PUBLISHED: dict[str, type[BaseModel]] = {
    "ProcessDefinition.Registered": DefinitionRegistered,
    "ProcessDefinition.VersionCreated": DefinitionVersionCreated,
    "ProcessDefinition.Tagged": DefinitionTagged,
    "ProcessDefinition.TagRemoved": DefinitionTagRemoved,
    "ProcessDefinition.Renamed": DefinitionRenamed,
    "ProcessDefinition.VersionRemoved": DefinitionVersionRemoved,
    "ProcessDefinition.Deleted": DefinitionDeleted,
    "ProcessKey.Opened": KeyOpened,
    "ProcessKey.Claimed": KeyClaimed,
    "ProcessKey.Released": KeyReleased,
    "ProcessInstance.Created": InstanceCreated,
    "ProcessInstance.Scheduled": InstanceScheduled,
    "ProcessInstance.Started": InstanceStarted,
    "ProcessInstance.TaskStarted": InstanceTaskStarted,
    "ProcessInstance.TaskEnded": InstanceTaskEnded,
    "ProcessInstance.TaskAbandoned": InstanceTaskAbandoned,
    "ProcessInstance.Ended": InstanceEnded,
    "ProcessInstance.TokenForked": InstanceTokenForked,
    "ProcessInstance.TokenArrived": InstanceTokenArrived,
    "ProcessInstance.TokensJoined": InstanceTokensJoined,
    "ProcessInstance.TokenEnded": InstanceTokenEnded,
    "ProcessInstance.FormDataSubmitted": InstanceFormDataSubmitted,
    "ProcessInstance.DocumentAttached": InstanceDocumentAttached,
    "ProcessInstance.AssignmentChanged": InstanceAssignmentChanged,
    "ProcessInstance.AutomatedTaskRequested": InstanceAutomatedTaskRequested,
    "ProcessInstance.AutomatedTaskCompleted": InstanceAutomatedTaskCompleted,
    "ProcessInstance.AutomatedTaskFailed": InstanceAutomatedTaskFailed,
    "ProcessInstance.OutputAppended": InstanceOutputAppended,
    "ProcessInstance.FileAttached": InstanceFileAttached,
    "ProcessInstance.StopRequested": InstanceStopRequested,
    "ProcessInstance.Stopped": InstanceStopped,
    "ProcessInstance.Failed": InstanceFailed,
    "ProcessInstance.Deleted": InstanceDeleted,
    "ProcessInstance.FlowStarted": InstanceFlowStarted,
    "ProcessInstance.FlowStepStarted": InstanceFlowStepStarted,
    "ProcessInstance.FlowStepEnded": InstanceFlowStepEnded,
    "ProcessInstance.VariablesSet": InstanceVariablesSet,
    "ProcessInstance.FlowPaused": InstanceFlowPaused,
    "ProcessInstance.FormWaiting": InstanceFormWaiting,
    "ProcessInstance.FormSubmitted": InstanceFormSubmitted,
}
"""Every published event type (`<Aggregate>.<Event>`) and the model of its `data`."""


def event_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema of one published event type: the envelope with its `type` and `data` pinned."""
    schema = CloudEvent.model_json_schema()
    schema["title"] = f"procession.{event_type}"
    schema["properties"]["type"] = {"const": f"procession.{event_type}"}
    data = PUBLISHED[event_type].model_json_schema()
    schema["properties"]["data"] = data
    return schema


def asyncapi_document(prefix: str, version: str) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the topics: one channel per aggregate type."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages_by_aggregate: dict[str, dict[str, Any]] = {}
    components: dict[str, Any] = {}
    for event_type in PUBLISHED:
        aggregate, _, name = event_type.partition(".")
        message_id = event_type.replace(".", "")
        components[message_id] = {
            "name": f"procession.{event_type}",
            "contentType": "application/cloudevents+json",
            "payload": event_schema(event_type),
        }
        messages_by_aggregate.setdefault(aggregate, {})[message_id] = {"$ref": f"#/components/messages/{message_id}"}
    for aggregate, messages in messages_by_aggregate.items():
        channels[aggregate] = {
            "address": f"{prefix}.{aggregate}",
            "description": f"Every {aggregate} event in order per aggregate; the key is the aggregate id.",
            "messages": messages,
        }
        operations[f"receive{aggregate}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{aggregate}"},
            "messages": [{"$ref": f"#/channels/{aggregate}/messages/{m}"} for m in messages],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "procession events",
            "version": version,
            "description": "At-least-once, in order per key. Drop duplicates by the CloudEvent id.",
        },
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": components},
    }
