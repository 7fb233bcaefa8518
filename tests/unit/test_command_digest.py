"""An Idempotency-Key answer is signed by the digest of the whole command: two commands that differ
in any one field never share a stored result."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from services.common.executor import command_digest
from services.definitions import commands as definitions
from services.instances import commands as instances
from services.scripts import commands as scripts

COMMANDS = [
    c for module in (definitions, instances, scripts) for c in vars(module).values()
    if isinstance(c, type) and dataclasses.is_dataclass(c) and hasattr(c, "records")
]
# Two different values for each kind of field a command has.
SAMPLES: dict[str, tuple[Any, Any]] = {
    "str": ("a", "b"),
    "int": (1, 2),
    "float": (1.5, 2.5),
    "bool": (True, False),
    "datetime": (datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 2, tzinfo=UTC)),
    "dict": ({"x": 1}, {"x": 2}),
    "tuple": (("a",), ("b",)),
    "bytes": ({"f.txt": b"one"}, {"f.txt": b"two"}),
}


def _kind(field: dataclasses.Field) -> str:
    text = str(field.type)
    if field.name == "files":
        return "bytes"
    for kind in ("datetime", "dict", "tuple", "bool", "int", "float", "str"):
        if text.startswith(kind) or f"[{kind}" in text or f"| {kind}" in text:
            return kind
    raise AssertionError(f"no sample for {field.name}: {text}")


def _base(command: type) -> Any:
    return command(**{f.name: SAMPLES[_kind(f)][0] for f in dataclasses.fields(command)})


def test_every_command_kind_is_covered() -> None:
    assert len(COMMANDS) >= 17


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.__name__)
def test_commands_that_differ_in_any_one_field_have_different_digests(command: type) -> None:
    base = _base(command)
    for field in dataclasses.fields(command):
        changed = dataclasses.replace(base, **{field.name: SAMPLES[_kind(field)][1]})
        assert command_digest(changed) != command_digest(base), field.name


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.__name__)
def test_equal_commands_have_equal_digests(command: type) -> None:
    assert command_digest(_base(command)) == command_digest(_base(command))


def test_commands_of_different_types_with_the_same_fields_differ() -> None:
    assert command_digest(instances.StopInstance("x")) != command_digest(instances.DeleteInstance("x"))
