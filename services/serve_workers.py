"""`procession serve --workers N`: N service processes on one port, sharing one database.

The parent starts what must exist once (the embedded PostgreSQL under the data directory,
the embedded Kafka broker), then runs N ordinary `procession serve` processes bound with
SO_REUSEPORT, so the kernel spreads connections over them. Each child is a full service
(projections, relay, scheduler, script worker); the singleton jobs hold PostgreSQL leases and
the projections lock their positions, so the children coordinate exactly as separate nodes on
separate machines would. A child that dies is started again; SIGTERM or SIGINT stops them all,
each within its shutdown budget (the parent kills a child still there shortly after it), and so
does the parent's death, however it dies: each child gets SIGTERM from the kernel then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys

from infra import metrics
from infra.child_processes import dies_with_parent
from infra.kafka_broker import EmbeddedBroker
from infra.postgres import start_embedded
from infra.settings import Settings

log = logging.getLogger(__name__)
RESTART_DELAY_SECONDS = 1.0
# A child exits within its budget (its own deadline kills its scripts and exits); the parent
# waits this much longer before SIGKILL, so that its kill never comes first and orphans them.
CHILD_DEADLINE_MARGIN_SECONDS = 2.0


def child_command(settings: Settings) -> list[str]:
    """The command line of one worker process."""
    return [sys.executable, "-m", "services.cli", "serve", "--host", settings.host, "--port", str(settings.port),
            "--reuse-port"]


async def child_environment(settings: Settings, broker: EmbeddedBroker | None) -> dict[str, str]:
    """The environment of every worker: the one database, the one broker."""
    env = dict(os.environ)
    env["DATABASE_URL"] = settings.database_url or await start_embedded(settings.data_dir)
    if broker is not None:
        env["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap
    elif settings.kafka_bootstrap_servers:
        env["KAFKA_BOOTSTRAP_SERVERS"] = settings.kafka_bootstrap_servers
    env["PROCESSION_DATA_DIR"] = str(settings.data_dir)
    if not env.get(metrics.MULTIPROC_ENV):
        # The workers' metrics add up on every scrape (whichever worker answers it).
        env[metrics.MULTIPROC_ENV] = str(metrics.prepare_multiprocess(settings.data_dir / "metrics"))
    return env


async def supervise(settings: Settings, workers: int) -> int:
    """Run `workers` service processes until SIGTERM/SIGINT; restart any that dies."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    broker = None
    if settings.kafka_bootstrap_servers == "embedded":
        broker = EmbeddedBroker()
        await broker.start()
        log.info("embedded Kafka broker on %s", broker.bootstrap)
    try:
        env = await child_environment(settings, broker)
        command = child_command(settings)
        stop_within = settings.shutdown_timeout_seconds + CHILD_DEADLINE_MARGIN_SECONDS
        children = [asyncio.create_task(_keep_running(n, command, env, stopping, stop_within)) for n in range(workers)]
        print(f"procession: {workers} workers on http://{settings.host}:{settings.port}", flush=True)
        await asyncio.gather(*children)
    finally:
        if broker is not None:
            await broker.stop()
    return 0


async def _keep_running(number: int, command: list[str], env: dict[str, str], stopping: asyncio.Event,
                        stop_within: float) -> None:
    while not stopping.is_set():
        process = await asyncio.create_subprocess_exec(*command, env=env, preexec_fn=dies_with_parent(signal.SIGTERM))
        log.info("worker %d started (pid %d)", number, process.pid)
        stop = asyncio.create_task(stopping.wait())
        exited = asyncio.create_task(process.wait())
        await asyncio.wait({stop, exited}, return_when=asyncio.FIRST_COMPLETED)
        if exited.done():
            stop.cancel()
            if stopping.is_set():
                return
            log.warning("worker %d (pid %d) exited with %s; starting it again", number, process.pid, exited.result())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(RESTART_DELAY_SECONDS):
                    await stopping.wait()
            continue
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        # asyncio.wait, not a timeout around `await exited`: that would cancel the wait itself.
        if not (await asyncio.wait({exited}, timeout=stop_within))[0]:
            log.error("worker %d (pid %d) still there %gs after SIGTERM; killing it", number, process.pid, stop_within)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await exited
        return
