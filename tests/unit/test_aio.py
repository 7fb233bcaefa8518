"""The background-task helper: a task lives exactly as long as its block."""

from __future__ import annotations

import asyncio

import pytest

from infra.aio import background


async def test_leaving_the_block_cancels_the_task_and_waits_for_its_clean_up() -> None:
    cleaned = asyncio.Event()

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0)  # clean-up that itself awaits
            cleaned.set()

    async with background(forever(), "forever") as task:
        await asyncio.sleep(0)

    assert task.cancelled() and cleaned.is_set()


async def test_an_error_the_task_ended_with_is_raised_when_the_block_is_left() -> None:
    async def broken() -> None:
        raise ValueError("broken")

    with pytest.raises(ValueError, match="broken"):
        async with background(broken(), "broken"):
            await asyncio.sleep(0.01)


async def test_a_cancellation_of_the_caller_while_it_waits_for_the_task_still_propagates() -> None:
    release = asyncio.Event()
    entered = asyncio.Event()

    async def slow_to_stop() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            entered.set()
            await release.wait()

    async def caller() -> str:
        async with background(slow_to_stop(), "slow"):
            await asyncio.sleep(0)  # let the task start
        return "went on"

    outer = asyncio.create_task(caller())
    await entered.wait()
    outer.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await outer
