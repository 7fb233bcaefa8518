"""Waiting in tests for something that happens in the background: `until()`, and its probes.

The bound is a safety limit so that a condition that never holds fails the test instead of
hanging it; it is never an expectation about speed (those belong to tests/perf).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar

from infra.child_processes import running

T = TypeVar("T")


async def until(probe: Callable[[], T | Awaitable[T]], *, within: float = 60, every: float = 0.05) -> T:
    """The first truthy answer of `probe` (a plain or async callable), asked every `every` seconds.

    Past `within` seconds without one, the test fails with an AssertionError.
    """
    bound = asyncio.timeout(within)
    try:
        async with bound:
            while True:
                answer = probe()
                if inspect.isawaitable(answer):
                    answer = await answer
                if answer:
                    return answer
                await asyncio.sleep(every)
    except TimeoutError:
        if not bound.expired():
            raise  # the probe's own timeout, not ours
        raise AssertionError(f"the condition never held within {within} s") from None


def process_gone(pid: int) -> bool:
    """Whether no process with this id runs any more (a killed script, for instance).

    A zombie is gone: the test session adopts orphans (tests/session_hygiene.py) and reaps none.
    """
    return not running(pid)
