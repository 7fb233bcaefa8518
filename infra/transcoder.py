"""The event serialisation: the eventsourcing mapper with an orjson transcoder."""

from __future__ import annotations

from typing import Any

import orjson
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    Transcoding,
    UUIDAsHex,
)

_MARKER = b'"_type_"'
_TAGGED = {"_type_", "_data_"}
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


class _EscapedDict(Transcoding):
    """A caller's own dict that happens to look like a tagged value ({_type_, _data_})."""

    type = type("_Never", (), {})  # never chosen by type: escaping is done by the encoder
    name = "escaped_dict"

    def encode(self, obj: Any) -> Any:
        return obj

    def decode(self, data: Any) -> Any:
        return data


class OrjsonTranscoder(JSONTranscoder):
    """The library's JSON transcoder, with orjson doing the (de)serialising.

    Datetimes go through the library's tagged transcoding (`{"_type_", "_data_"}`) so that
    they come back as datetimes. Data that merely looks like a tagged value (a user's
    configuration may hold anything) is escaped on the way in, so it comes back unchanged.
    orjson writes UUIDs natively as strings, so they come back as strings: domain events
    hold ids as `str` for that reason.
    """

    def __init__(self) -> None:
        super().__init__()
        for transcoding in (UUIDAsHex(), DatetimeAsISO(), DecimalAsStr(), _EscapedDict()):
            self.register(transcoding)

    def encode(self, obj: Any) -> bytes:
        tagged = 0

        def default(value: Any) -> Any:
            nonlocal tagged
            tagged += 1
            return self._encode_obj(value)

        data = orjson.dumps(obj, default=default, option=_OPTIONS)
        # More markers than values we tagged means the data itself holds lookalikes.
        if data.count(_MARKER) > tagged:
            data = orjson.dumps(_escape(obj), default=self._encode_obj, option=_OPTIONS)
        return data

    def decode(self, data: bytes) -> Any:
        value = orjson.loads(data)
        markers = data.count(_MARKER)
        if not markers:
            return value
        if markers == 1 and type(value) is dict and _is_tagged(stamp := value.get("timestamp")):
            # The commonest case of all, checked without walking the keys: one tag, the timestamp.
            value["timestamp"] = self._decode_obj(stamp)
            return value
        if isinstance(value, dict):
            # The usual case: the only tagged value is the event's top-level timestamp,
            # so revive the top level and skip walking nested configurations.
            top = [k for k, v in value.items() if _is_tagged(v)]
            if len(top) == markers:
                for key in top:
                    value[key] = self._decode_obj(value[key])
                return value
        return self._revive(value)

    def _revive(self, value: Any) -> Any:
        # Top-down, so an escaped dict's contents are restored, not decoded as tags.
        if isinstance(value, dict):
            if _is_tagged(value):
                if value["_type_"] == _EscapedDict.name:
                    return {k: self._revive(v) for k, v in value["_data_"].items()}
                return self._decode_obj(value)
            return {k: self._revive(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._revive(v) for v in value]
        return value


def _is_tagged(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 2 and value.keys() == _TAGGED


def _escape(value: Any) -> Any:
    if isinstance(value, dict):
        inner = {k: _escape(v) for k, v in value.items()}
        return {"_type_": _EscapedDict.name, "_data_": inner} if value.keys() == _TAGGED else inner
    if isinstance(value, list | tuple):
        return [_escape(v) for v in value]
    return value


def create_mapper() -> Mapper:
    """The one mapper every reader and writer of the event store uses."""
    return Mapper(transcoder=OrjsonTranscoder())
