"""What a process printed and wrote: console lines and files, read from its own event stream.

Console lines live in the instance's OutputAppended events (many lines each), so the output
is readable while the script runs and is never lost with a worker. Only those events are
read (by topic), not the whole instance. Files are FileAttached events (outputs) and the
`inputFiles` the instance was started with, their contents in the blob store.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from events.errors import NotFound
from events.instance import ProcessInstance as I
from events.instance import line_time
from infra.blob_store import BlobStore
from infra.event_store import EventStore

_OUTPUT, _FILE = get_topic(I.OutputAppended), get_topic(I.FileAttached)
_CREATED, _DELETED = get_topic(I.Created), get_topic(I.Deleted)


_LEVELS = frozenset({"INFO", "WARN", "ERROR", "DEBUG"})


def _stream(stream: str) -> str:
    return f"[{stream:<5}]" if stream in _LEVELS else stream


class ProcessOutput:
    """Reads one process's console lines and files."""

    def __init__(self, store: EventStore, blobs: BlobStore) -> None:
        self.store = store
        self.blobs = blobs

    async def output_lines(self, instance_id: str | UUID, from_time: datetime | None = None,
                           to_time: datetime | None = None) -> list[dict[str, Any]]:
        """Every console line, in order, as `{time, stream, line}`; optionally only those within [from, to]."""
        low, high = (line_time(from_time) if from_time else None), (line_time(to_time) if to_time else None)
        lines = []
        for event in await self._events(instance_id, _OUTPUT):
            default = line_time(event.timestamp)
            for when, stream, text in event.lines:
                when = when or default
                if (low is None or when >= low) and (high is None or when <= high):
                    lines.append({"time": when, "stream": stream, "line": text})
        return lines

    async def console_log(self, instance_id: str | UUID) -> bytes:
        """All output as text, one line each: "<ISO timestamp> <stream> <line>", in order.

        A line a Concord flow logged has a level for its stream and reads as Concord's do:
        "<ISO timestamp> [INFO ] <line>".
        """
        lines = await self.output_lines(instance_id)
        return "".join(f"{x['time']} {_stream(x['stream'])} {x['line']}\n" for x in lines).encode()

    async def output_files(self, instance_id: str | UUID) -> list[dict[str, Any]]:
        """The files the process wrote (or had attached): `{name, size, sha256, mediaType, kind}`, first first."""
        files: dict[str, dict[str, Any]] = {}
        for e in await self._events(instance_id, _FILE):
            files[e.name] = {"name": e.name, "size": e.size, "sha256": e.digest, "mediaType": e.media_type, "kind": e.kind}
        return list(files.values())

    async def input_files(self, instance_id: str | UUID) -> list[dict[str, Any]]:
        """The files the process was started with, in the same shape (kind "input")."""
        created = (await self._events(instance_id, _CREATED))[0]
        return [
            {"name": name, "size": info["size"], "sha256": info["sha256"], "mediaType": "application/octet-stream", "kind": "input"}
            for name, info in (created.attributes.get("inputFiles") or {}).items()
        ]

    async def read_file(self, instance_id: str | UUID, name: str) -> tuple[Path, dict[str, Any]]:
        """Where an output (else input) file's content is, with its description; NotFound otherwise."""
        for info in [*await self.output_files(instance_id), *await self.input_files(instance_id)]:
            if info["name"] == name:
                return self.blobs.path(info["sha256"]), info
        raise NotFound(f"process {instance_id} has no file {name!r}")

    async def _events(self, instance_id: str | UUID, topic: str) -> list[Any]:
        uid = _uuid(instance_id)
        events = await self.store.load_topics(uid, [_CREATED, _DELETED, topic])
        kinds = {type(e) for e in events}
        if I.Created not in kinds or I.Deleted in kinds:
            raise NotFound(f"no process instance {instance_id}")
        return [e for e in events if get_topic(type(e)) == topic]


def _uuid(instance_id: str | UUID) -> UUID:
    try:
        return instance_id if isinstance(instance_id, UUID) else UUID(str(instance_id))
    except ValueError:
        raise NotFound(f"no process instance {instance_id!r}") from None
