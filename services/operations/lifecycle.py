"""The life of a serving process: its background workers, and a graceful shutdown.

On SIGTERM/SIGINT aiohttp stops accepting connections and then calls `begin_shutdown`:
server-sent event streams end with a final `shutdown` event; the scheduler and the Kafka
relay stop at once and give their leases back (another process takes over without waiting
for them to expire); the script worker claims nothing more and its running scripts get the
grace period to end, after which they are stopped (SIGTERM, SIGKILL after the script stop
grace) and their runs fail with "service shutdown". Meanwhile aiohttp lets in-flight requests
finish (for the grace and the stop grace, so a request waiting on a stopped run sees how it
ended). The whole stop fits `shutdown_timeout_seconds`; `deadline` enforces it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass, field

from aiohttp import web

from infra import metrics
from infra.settings import Settings
from services.http.app_keys import RUNTIME, STOPPING, WORKERS
from services.operations import deadline
from services.operations.readiness import RelayWatch
from services.publishing.relay import KafkaRelay
from services.scheduling.scheduler import Scheduler
from services.scripts.worker import ScriptWorker

log = logging.getLogger(__name__)
SAMPLE_SECONDS = 5.0


def stop_once_on_signals(loop: asyncio.AbstractEventLoop, settings: Settings, app: web.Application) -> None:
    """SIGTERM/SIGINT stop the serving process gracefully, within its budget; another one meanwhile is only logged.

    aiohttp's own handlers raise GracefulExit at every such signal; one raised again while the
    graceful shutdown runs aborts it half-way (tracebacks, workers not stopped, even the port
    left open). A second Ctrl+C or a supervisor's repeated TERM must not do that: the grace
    period runs its course, and SIGKILL remains the way to stop at once. The first signal
    also arms the deadline: the process is gone `shutdown_timeout_seconds` later whatever hangs.
    """
    stopping = False

    def kill_scripts() -> None:
        if (rt := app.get(RUNTIME)) is not None:
            rt.script_runner.kill_all()

    def on_signal() -> None:
        nonlocal stopping
        if stopping:
            log.warning("already shutting down; SIGKILL stops at once")
            return
        stopping = True
        deadline.arm(settings.shutdown_timeout_seconds, kill_scripts)
        raise web.GracefulExit()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)


@dataclass
class Workers:
    """This process's background workers (None where not running) and its draining scripts."""

    relay: KafkaRelay | None = None
    scheduler: Scheduler | None = None
    script_worker: ScriptWorker | None = None
    draining: asyncio.Task[None] | None = None
    relay_watch: RelayWatch = field(default_factory=RelayWatch)


async def begin_shutdown(app: web.Application) -> None:
    """aiohttp's on_shutdown: end the streams, give the leases back, let the scripts drain."""
    app[STOPPING].set()
    workers = app.get(WORKERS)
    if workers is None:
        return
    settings = app[RUNTIME].settings
    grace = settings.shutdown_grace
    log.info("shutting down within %gs: in-flight requests and running scripts get %gs, then a script gets"
             " SIGTERM and %gs before SIGKILL", settings.shutdown_timeout_seconds, grace,
             settings.script_stop_grace_seconds)
    singletons = [t for t in (w.task for w in (workers.scheduler, workers.relay) if w is not None) if t is not None]
    for task in singletons:
        task.cancel()  # no new run is requested while the scripts drain
    if workers.script_worker is not None:
        # Started before the singletons are awaited: the relay's flush must not eat the scripts' grace.
        workers.draining = asyncio.create_task(workers.script_worker.drain(grace), name="script-drain")
    if singletons:
        await asyncio.wait(singletons)


async def finish_draining(workers: Workers) -> None:
    """Wait for the scripts' drain begun at shutdown (it ends within the grace period)."""
    if workers.draining is not None:
        with contextlib.suppress(Exception):
            await workers.draining


async def sample_forever(app: web.Application) -> None:
    """Record pool use, memory and open files now and then (other processes' scrapes read them)."""
    pool = app[RUNTIME].pool
    while True:
        metrics.sample_process(pool.get_size(), pool.get_idle_size())
        await asyncio.sleep(SAMPLE_SECONDS)
