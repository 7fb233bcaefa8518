"""The orjson transcoder: what goes in comes out, whatever the data looks like."""

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from uuid import uuid4

from infra.transcoder import OrjsonTranscoder


@pytest.mark.parametrize(
    "state",
    [
        {"timestamp": datetime(2026, 1, 2, tzinfo=timezone.utc), "n": 1},
        {"nested": {"when": datetime(2026, 1, 2, tzinfo=timezone.utc)}, "amount": Decimal("1.50")},
        {"input": {"_type_": "datetime_iso", "_data_": "2020-01-01T00:00:00"}},
        {"input": {"_type_": "bogus", "_data_": {"_type_": "escaped_dict", "_data_": [1, 2]}}},
        {"list": [{"_type_": "x", "_data_": 1}, {"_type_": "y"}], "t": datetime(2026, 1, 2, tzinfo=timezone.utc)},
        {"_type_": "datetime_iso", "_data_": "not a date"},
    ],
)
def test_every_state_round_trips_unchanged(state):
    transcoder = OrjsonTranscoder()
    assert transcoder.decode(transcoder.encode(state)) == state


def test_uuids_come_back_as_strings_which_is_why_events_hold_ids_as_str():
    transcoder = OrjsonTranscoder()
    ident = uuid4()
    assert transcoder.decode(transcoder.encode({"id": ident})) == {"id": str(ident)}
