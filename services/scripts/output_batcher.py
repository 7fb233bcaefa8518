"""Console lines gathered into batches: one OutputAppended event per ~100 ms or 500 lines.

So that a script printing 100,000 lines makes a few hundred events, not 100,000
transactions; and so that its output is readable while it runs. A reader that gets ahead
of the writes waits for the batch to be written (back-pressure on the script's pipe).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

from events.instance import line_time
from services.instances.journal import InstanceJournal

MAX_LINES = 500
MAX_DELAY = 0.1
MAX_LINE_CHARS = 8192


class OutputBatcher:
    """Collects lines from a script's streams and appends them in batches."""

    def __init__(self, journal: InstanceJournal, *, limit_bytes: int) -> None:
        self.journal = journal
        self.limit_bytes = limit_bytes
        self.written_bytes = 0
        self.exceeded = asyncio.Event()
        self._lines: list[list[str]] = []
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None

    async def add(self, stream: str, text: str) -> None:
        """Keep one line (with the time it was read); write a full batch at once."""
        self.written_bytes += len(text) + 1
        if self.written_bytes > self.limit_bytes:
            self.exceeded.set()
            return
        for start in range(0, max(len(text), 1), MAX_LINE_CHARS):  # a very long line becomes several
            self._lines.append([line_time(datetime.now(UTC)), stream, text[start:start + MAX_LINE_CHARS]])
        if len(self._lines) >= MAX_LINES:
            await self.flush()
        elif self._timer is None or self._timer.done():
            self._timer = asyncio.create_task(self._flush_later())

    async def pump(self, reader: asyncio.StreamReader, stream: str) -> None:
        """Read a pipe to its end, line by line."""
        pending = b""
        while chunk := await reader.read(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                await self.add(stream, line.rstrip(b"\r").decode("utf-8", "replace"))
        if pending:
            await self.add(stream, pending.decode("utf-8", "replace"))

    async def flush(self) -> None:
        """Write what was collected as one event."""
        async with self._lock:
            lines, self._lines = self._lines, []
            if lines:
                await self.journal.record(lambda instance: instance.append_lines(lines))

    async def close(self) -> None:
        """Write the rest and stop the timer."""
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._timer
        await self.flush()

    async def _flush_later(self) -> None:
        await asyncio.sleep(MAX_DELAY)
        await self.flush()
