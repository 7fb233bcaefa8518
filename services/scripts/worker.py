"""The script worker: claims requested runs, runs them, and reports each outcome.

It wakes when events are appended (here or, through LISTEN, in another process) and polls
besides. Outcomes: exit 0 completes the task (the flow moves on); anything else fails it; a
stop request ends the instance as stopped. A run is never left RUNNING: when the worker
shuts down it kills its scripts and fails their runs; when a worker dies, its claims' leases
run out and the next worker fails those runs (a script is not run twice: it may not be
safe to repeat).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from events.errors import DomainError
from infra import metrics
from infra.aio import background, wait_event
from infra.run_claims import Claim, RunClaims
from services.scripts.runner import LocalRuns, RunControl, ScriptRunner, TaskStopped
from services.common.principals import SYSTEM
from services.instances.commands import CompleteTask, FailTask, StopInstance
from services.instances.task_port import TaskFailed

log = logging.getLogger(__name__)
POLL_SECONDS = 0.5
LOST = "the worker running this script was lost (its lease expired); the run was not repeated"
SHUTDOWN = "service shutdown"


class ScriptWorker:
    """Runs up to `concurrency` scripts at a time; `run()` until cancelled."""

    def __init__(self, runtime: Any, runner: ScriptRunner, local: LocalRuns, *, concurrency: int, lease_seconds: float) -> None:
        self.runtime = runtime
        self.runner = runner
        self.local = local
        self.concurrency = concurrency
        self.claims = RunClaims(runtime.pool, f"worker:{uuid.uuid4().hex}", lease_seconds=lease_seconds)
        self._wake = asyncio.Event()
        self._seen = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.draining = False  # set at shutdown: running scripts may end, no new one starts
        runtime.store.follow(self._on_append)

    def _on_append(self, position: int) -> None:
        self._seen = max(self._seen, position)
        self._wake.set()

    async def run(self) -> None:
        """Claim and run until cancelled; then stop every local run and report it."""
        try:
            async with background(self._heartbeat(), "script-heartbeat"):
                while True:
                    self._wake.clear()
                    try:
                        await self.runtime.projections.wait_for(self._seen, 2.0)
                        await self.step()
                    except Exception:  # noqa: BLE001 - the worker must outlive a failed step
                        log.exception("script worker step failed")
                    await wait_event(self._wake, POLL_SECONDS)
        finally:
            await self.shutdown()

    async def drain(self, grace_seconds: float) -> None:
        """Claim nothing more; give the running scripts `grace_seconds` to end, then stop them.

        Stopped runs fail with the reason "service shutdown"; their claims are finished at
        once, so no other worker waits for a lease to run out.
        """
        self.draining = True
        if self._tasks:
            log.info("waiting up to %gs for %d running script(s)", grace_seconds, len(self._tasks))
            await asyncio.wait(set(self._tasks), timeout=grace_seconds)
        await self.shutdown()

    async def step(self) -> None:
        """Start what can be started; stop what was asked to stop."""
        while (not self.draining and len(self._tasks) < self.concurrency
               and (claim := await self.claims.next()) is not None):
            task = asyncio.create_task(self._execute(claim), name=f"script-{claim.instance_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        for key in await self.claims.to_stop(list(self.local.controls)):
            if (control := self.local.controls.get(key)) is not None:  # it may have ended meanwhile
                if control.reason is None:
                    log.info("script run %s: asked to stop (or its process ended)", key)
                control.stop("requested")

    async def shutdown(self) -> None:
        """Stop every local run (their instances fail) and wait for the reports."""
        for control in self.local.controls.values():
            control.stop("shutdown")
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.claims.lease_seconds / 3)
            with contextlib.suppress(Exception):
                await self.beat()

    async def beat(self) -> None:
        """Renew the claims of the runs alive here; stop those another worker took over.

        The runs are listed *before* the renewal is sent. A run claimed while the renewal is
        on its way (its claim committed after the UPDATE's snapshot) is not in the answer;
        judged against a list taken afterwards it looked lost, its script was killed and
        nobody reported it, while this worker kept renewing its claim: RUNNING for good.
        """
        keys = list(self.local.controls)
        held = await self.claims.renew(keys)
        for key in keys:
            if key not in held and (control := self.local.controls.get(key)) is not None:
                log.warning("script run %s: its claim was taken over (lease expired); stopping it here", key)
                control.stop("lost")

    async def _execute(self, claim: Claim) -> None:
        control = RunControl()
        self.local.controls[claim.key] = control
        instances, iid = self.runtime.instances, str(claim.instance_id)
        try:
            if claim.stop_requested:
                await instances.stop(SYSTEM, StopInstance(iid, "stopped before the script started"))
            elif claim.attempts > 1:
                await instances.fail_task(SYSTEM, FailTask(iid, claim.element_id, LOST))
            else:
                await self._run(claim, control)
        except DomainError as e:  # the instance ended or was deleted meanwhile
            log.info("script run %s: %s", claim.key, e)
        except Exception:  # noqa: BLE001 - report, never leave the run hanging
            log.exception("script run %s failed unexpectedly", claim.key)
            with contextlib.suppress(Exception):
                await instances.fail_task(SYSTEM, FailTask(iid, claim.element_id, "the script runner failed"))
        finally:
            self.local.controls.pop(claim.key, None)
            if control.reason != "lost":
                with contextlib.suppress(Exception):
                    await asyncio.shield(self.claims.finish(claim.key))

    async def _run(self, claim: Claim, control: RunControl) -> None:
        instances, iid = self.runtime.instances, str(claim.instance_id)
        instance = await instances.get(iid)
        started = time.monotonic()

        def ended(status: str) -> None:
            metrics.script_finished(claim.script, status, time.monotonic() - started)

        try:
            result = await self.runner.run(
                iid, claim.script, claim.parameters, element_id=claim.element_id,
                input_files=instance.attributes.get("inputFiles"), control=control,
            )
        except TaskStopped as stopped:
            if str(stopped) == "requested":
                ended("stopped")
                await instances.stop(SYSTEM, StopInstance(iid, "stopped on request"))
            elif str(stopped) == "shutdown":
                ended("failed")
                log.warning("script run %s of %s stopped: %s", claim.key, claim.script, SHUTDOWN)
                await instances.fail_task(SYSTEM, FailTask(iid, claim.element_id, SHUTDOWN))
            return  # "lost": the worker that took the claim over reports the run
        except TaskFailed as failed:
            ended("failed")
            await instances.fail_task(SYSTEM, FailTask(iid, claim.element_id, str(failed)))
            return
        ended("completed")
        await instances.complete_task(SYSTEM, CompleteTask(iid, claim.element_id, result))


@contextlib.asynccontextmanager
async def running_script_worker(runtime: Any) -> AsyncIterator[ScriptWorker]:
    """Run the script worker in the background while the block runs."""
    settings = runtime.settings
    worker = ScriptWorker(runtime, runtime.script_runner, runtime.local_runs,
                          concurrency=settings.script_concurrency, lease_seconds=settings.script_lease_seconds)
    async with background(worker.run(), "script-worker"):
        yield worker
