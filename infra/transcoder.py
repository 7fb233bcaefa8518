"""The event serialisation: the eventsourcing mapper with an orjson transcoder."""

from __future__ import annotations

from typing import Any

import orjson
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    UUIDAsHex,
)

_MARKER = b'"_type_"'


class OrjsonTranscoder(JSONTranscoder):
    """The library's JSON transcoder, with orjson doing the (de)serialising.

    Datetimes go through the library's tagged transcoding so that they come back as
    datetimes; orjson would otherwise write them as bare strings.
    """

    def __init__(self) -> None:
        super().__init__()
        for transcoding in (UUIDAsHex(), DatetimeAsISO(), DecimalAsStr()):
            self.register(transcoding)

    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(
            obj,
            default=self._encode_obj,
            option=orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS,
        )

    def decode(self, data: bytes) -> Any:
        value = orjson.loads(data)
        # Only walk the tree when a tagged value is in it: most event states hold one
        # (the timestamp) at the top level, which the shallow pass below handles.
        if _MARKER in data:
            value = self._revive(value)
        return value

    def _revive(self, value: Any) -> Any:
        if isinstance(value, dict):
            return self._decode_obj({k: self._revive(v) for k, v in value.items()})
        if isinstance(value, list):
            return [self._revive(v) for v in value]
        return value


def create_mapper() -> Mapper:
    """The one mapper every reader and writer of the event store uses."""
    return Mapper(transcoder=OrjsonTranscoder())
