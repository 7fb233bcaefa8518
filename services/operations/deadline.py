"""The shutdown's deadline: a serving process still there when its budget is spent exits at once.

Each part of a stop has its own bound (the grace, the scripts' stop grace, the reserve; see
`Settings.shutdown_timeout_seconds`), and together they fit the budget. This is the backstop
for what none of them bounds (a database connection that hangs, a blocked event loop): a
timer thread, not a task, so that it fires even when the event loop does not turn. It kills
the scripts still running first (each lives in its own session and would outlive the
process), then exits with status 1, before the platform's SIGKILL would leave them behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)
EXIT_STATUS = 1


def arm(seconds: float, kill_scripts: Callable[[], None]) -> threading.Timer:
    """Exit the process `seconds` from now (after `kill_scripts()`), unless it has exited by then."""

    def overrun() -> None:
        log.error("shutdown overran its budget of %gs (PROCESSION_SHUTDOWN_TIMEOUT_SECONDS): killing the"
                  " scripts still running and exiting now", seconds)
        with contextlib.suppress(Exception):  # nothing may stop the exit
            kill_scripts()
        os._exit(EXIT_STATUS)  # not sys.exit: the main thread may be the one that hangs

    timer = threading.Timer(seconds, overrun)
    timer.daemon = True  # a process that exits in time is not held by it
    timer.start()
    return timer
