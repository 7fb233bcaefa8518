"""docs/architecture.md maps every route, and cannot drift from the route table."""

from __future__ import annotations

from events.definition import ProcessDefinition
from events.instance import ProcessInstance
from events.process_key import ProcessKey
from services.app import ROUTES
from tests import architecture_map


def test_the_documented_route_map_is_the_one_the_route_table_gives() -> None:
    assert architecture_map.documented() == architecture_map.render(), "run: python -m tests.architecture_map"


def test_every_route_is_in_the_map() -> None:
    assert len(architecture_map.rows()) == len(ROUTES)


def test_every_event_a_command_names_exists() -> None:
    aggregates = {"ProcessDefinition": ProcessDefinition, "ProcessInstance": ProcessInstance, "ProcessKey": ProcessKey}
    for name, command in architecture_map._commands().items():
        for event in command.records:
            aggregate, _, kind = event.partition(".")
            assert isinstance(getattr(aggregates[aggregate], kind, None), type), f"{name}: {event}"
