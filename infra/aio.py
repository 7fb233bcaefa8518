"""Small asyncio helpers shared by the workers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any


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


async def wait_any(events: list[asyncio.Event], timeout: float) -> bool:
    """Wait until one of `events` is set or `timeout` passes; True if one was set."""
    if any(e.is_set() for e in events):
        return True
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        done, _ = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    return bool(done)


@contextlib.asynccontextmanager
async def background(coro: Coroutine[Any, Any, Any], name: str) -> AsyncIterator[asyncio.Task[Any]]:
    """Run `coro` as a task while the block runs; on leaving, cancel it and wait until it has ended.

    Waiting matters: the task's own clean-up (releasing a lease, stopping child processes)
    must be over before whatever it uses is closed. The task's cancellation is swallowed, but
    not one aimed at the task leaving the block, which still propagates.
    """
    task = asyncio.create_task(coro, name=name)
    try:
        yield task
    finally:
        task.cancel()
        current = asyncio.current_task()
        # Counted before waiting: the block may be left *because* its task was cancelled
        # (aiohttp cancels its main task on SIGTERM and cleans up after), which is no reason
        # to give up the clean-up; only a cancellation arriving while we wait is.
        before = current.cancelling() if current is not None else 0
        try:
            await task
        except asyncio.CancelledError:
            if current is not None and current.cancelling() > before:
                raise
