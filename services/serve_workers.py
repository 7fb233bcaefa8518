"""`procession serve --workers N`: N service processes on one port, sharing one database.

The parent starts what must exist once (the embedded PostgreSQL under the data directory,
the embedded Kafka broker), then runs N ordinary `procession serve` processes bound with
SO_REUSEPORT, so the kernel spreads connections over them. Each child is a full service
(projections, relay, scheduler, script worker); the singleton jobs hold PostgreSQL leases and
the projections lock their positions, so the children coordinate exactly as separate nodes on
separate machines would. A child that dies is started again; SIGTERM or SIGINT stops them all,
and so does the parent's death, however it dies: each child gets SIGTERM from the kernel then.
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
STOP_GRACE_SECONDS = 20.0


def child_command(settings: Settings) -> list[str]:
    """The command line of one worker process."""
    return [sys.executable, "-m", "services.cli", "serve", "--host", settings.host, "--port", str(settings.port),
            "--reuse-port"]


async def child_environment(settings: Settings, broker: EmbeddedBroker | None) -> dict[str, str]:
    """The environment of every worker: the one database, the one broker."""
    env = dict(os.environ)
    env["DATABASE_URL"] = settings.database_url or await start_embedded(settings.data_dir)
    if broker is not None:
        # The embedded broker does not grant producer ids (see settings.kafka_idempotent).
        env["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap
        env["PROCESSION_KAFKA_IDEMPOTENT"] = "false"
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
        children = [asyncio.create_task(_keep_running(n, command, env, stopping)) for n in range(workers)]
        print(f"procession: {workers} workers on http://{settings.host}:{settings.port}", flush=True)
        await asyncio.gather(*children)
    finally:
        if broker is not None:
            await broker.stop()
    return 0


async def _keep_running(number: int, command: list[str], env: dict[str, str], stopping: asyncio.Event) -> None:
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
        try:
            async with asyncio.timeout(STOP_GRACE_SECONDS):
                await exited
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await exited
        return
