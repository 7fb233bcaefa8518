"""Child processes that do not outlive the process that started them.

On Linux the child asks the kernel, between fork and exec, for a signal when its parent dies
(`prctl(PR_SET_PDEATHSIG)`): that holds however the parent dies, SIGKILL included, which no
finalizer, `atexit` or signal handler can promise. Elsewhere the request is left out (the
parent's own stop remains). The signal comes when the *thread* that started the child ends,
so children are started from the event loop's thread, which lives as long as the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["dies_with_parent", "own_group", "prctl", "running", "stop_group"]

_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None


# Looked up once here: the child, between fork and exec, should only make the call.
_prctl = _load_prctl()


def prctl(option: int, value: int) -> bool:
    """prctl(2) with one argument; False where it failed or there is none (not Linux)."""
    return _prctl is not None and _prctl(option, value, 0, 0, 0) == 0


def dies_with_parent(sig: int = signal.SIGKILL) -> Callable[[], None] | None:
    """A `preexec_fn` that has the child receive `sig` when this process dies (None off Linux)."""
    if _prctl is None:
        return None
    parent = os.getpid()

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, int(sig))
        if os.getppid() != parent:  # the parent died before the request was made
            os.kill(os.getpid(), sig)

    return arm


def own_group(sig: int = signal.SIGKILL) -> dict[str, Any]:
    """Keyword arguments for `asyncio.create_subprocess_exec`: a process group of its own (so it
    and whatever it starts are stopped together, and a Ctrl-C meant for us does not reach it
    first) that receives `sig` when this process dies."""
    return {"process_group": 0, "preexec_fn": dies_with_parent(sig)}


async def stop_group(process: asyncio.subprocess.Process, grace: float) -> None:
    """SIGTERM the group `process` leads, SIGKILL it after `grace` seconds, and wait for `process`."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        async with asyncio.timeout(grace):
            await process.wait()
        return
    except TimeoutError:
        pass
    # Only while the leader lives is its id surely still this group's.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    await process.wait()


def running(pid: int) -> bool:
    """Whether process `pid` runs: a zombie (dead, not yet reaped by its parent) does not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc here: existence is all there is to know
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")
