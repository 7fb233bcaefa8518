"""Test data: principals, configurations, definitions with a history, their key claims, and
process instances.

Factories return aggregates with their events still pending, so a test can either look at
the aggregate or collect the events and append them.
"""

from __future__ import annotations

from typing import Any

from events.definition import ProcessDefinition
from events.instance import ProcessInstance
from events.process_key import ProcessKey
from infra.tokens import Principal

ALICE = Principal("alice", "admin")
BOB = Principal("bob", "user")


def a_configuration(n: int = 1, **overrides: Any) -> dict[str, Any]:
    """A valid script configuration; `n` makes each one different from the others."""
    return {
        "name": f"Process {n}",
        "description": f"configuration number {n}",
        "script": "echo-params",
        "enabled": True,
        "input": {"n": n, "items": [n, n + 0.5, None], "nested": {"flag": n % 2 == 0}},
        **overrides,
    }


def a_definition(
    key: str = "invoice", *, versions: int = 1, tags: dict[str, int] | None = None, user: str = "alice"
) -> ProcessDefinition:
    """A definition with `versions` versions and the given tags (tag -> version number)."""
    definition = ProcessDefinition.register(key, a_configuration(1), user)
    for n in range(2, versions + 1):
        definition.add_version(a_configuration(n), user)
    for tag, number in (tags or {}).items():
        definition.tag(str(number), tag, user)
    return definition


def a_claim(definition: ProcessDefinition) -> ProcessKey:
    """The key claim held by a definition."""
    claim = ProcessKey(key=definition.key)
    claim.claim(definition.id)
    return claim


def creation(key: str, **kw: Any) -> list[Any]:
    """The events of one command creating a definition and claiming its key."""
    definition = a_definition(key, **kw)
    return [*definition.collect_events(), *a_claim(definition).collect_events()]


def an_instance(**overrides: Any) -> ProcessInstance:
    """A new, not yet started instance of definition `k` version 1, started by alice."""
    fields: dict[str, Any] = dict(
        definition_id="d", definition_key="k", definition_version=1, initiator="alice", owner="1",
        target_id=None, parameters={}, form_data={}, documents=[], assignment={}, attributes={},
    )
    return ProcessInstance(**{**fields, **overrides})


def state(definition: ProcessDefinition) -> dict[str, Any]:
    """What a definition is, without its pending events: for comparing two foldings."""
    return {
        "id": definition.id,
        "key": definition.key,
        "version": definition.version,
        "versions": definition.versions,
        "tags": definition.tags,
        "next_version": definition.next_version,
        "deleted": definition.deleted,
    }


def fold(events: list[Any]) -> Any:
    """The aggregate that a list of its events builds, from nothing."""
    aggregate = None
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate
