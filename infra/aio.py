"""Small asyncio helpers shared by the workers."""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait until `event` is set or `timeout` passes; True if it was set.

    Built on `asyncio.timeout` rather than `asyncio.wait_for`: on Python 3.11, `wait_for`
    swallows a cancellation that arrives as the awaited event fires, which left workers
    running after they were told to stop.
    """
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return event.is_set()
    return True
