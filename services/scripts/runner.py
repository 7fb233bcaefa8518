"""The TaskRunner that runs registered scripts as subprocesses.

Each run gets a fresh working directory under the data dir holding its input files (a name
like `docs/a.txt` lands in `docs/`, never outside the directory nor in `output/`), an
`output/` directory (OUTPUT_DIR) whose files become the instance's output files, and an
environment of PATH and LANG only. Arguments are separate argv entries: no shell ever sees
them. Limits: wall time (killed, failed "timed out"), address space (RLIMIT_AS) and output
size (killed, failed). A stop request sends SIGTERM to the script's process group, then
SIGKILL to whatever is left of the group after a grace period. A script never outlives its service
process: the kernel SIGKILLs it when that process dies (a SIGKILLed `serve` too), and the run's
lease then lets the next claimant fail it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mimetypes
import os
import resource
import shutil
import signal
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from events.errors import DomainError, InvalidInput
from infra.archives import UnsafeArchive, path_under
from infra.blob_store import BlobStore
from infra.child_processes import dies_with_parent
from infra.event_store import EventStore
from services.instances.journal import InstanceJournal
from services.scripts.output_batcher import OutputBatcher
from services.scripts.descriptor import ScriptDescriptor
from services.scripts.registry import ScriptRegistry, check_arguments
from services.instances.task_port import TaskFailed

log = logging.getLogger(__name__)
_READ_DRAIN_SECONDS = 10.0  # a grandchild holding a pipe open must not hold the run forever
_SHUTDOWN_DRAIN_SECONDS = 1.0  # ... nor eat the shutdown's reserve (the group is dead by then)
_KILLED_WAIT_SECONDS = 2.0  # how long a SIGKILLed script's exit may take to be seen
OUTPUT = "output"  # the working directory's folder whose files become output files


class TaskStopped(TaskFailed):
    """The run was stopped on request (or because the service is going down)."""


@dataclass
class RunControl:
    """How a worker tells a running script to stop, and why."""

    reason: str | None = None
    event: asyncio.Event = field(default_factory=asyncio.Event)

    def stop(self, reason: str) -> None:
        """Ask the run to stop ("requested", "shutdown" or "lost")."""
        if self.reason is None:
            self.reason = reason
        self.event.set()


def _limits(memory_bytes: int) -> Any:
    orphaned = dies_with_parent()

    def apply() -> None:  # runs in the child between fork and exec
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if orphaned is not None:
            orphaned()
    return apply


class ScriptRunner:
    """Runs one script for one automated task; see the module docstring."""

    def __init__(self, store: EventStore, registry: ScriptRegistry, blobs: BlobStore, work_root: Path,
                 *, stop_grace_seconds: float = 5.0, max_files: int = 100) -> None:
        self.store = store
        self.registry = registry
        self.blobs = blobs
        self.work_root = work_root
        self.stop_grace_seconds = stop_grace_seconds
        self.max_files = max_files
        self.process_groups: set[int] = set()  # the running scripts', for `kill_all`

    def kill_all(self) -> None:
        """SIGKILL every running script's process group; safe from another thread (the shutdown's deadline)."""
        for group in list(self.process_groups):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)

    async def run(self, instance_id: str, task: str, parameters: dict[str, Any], *, element_id: str = "script",
                  input_files: dict[str, dict[str, Any]] | None = None, control: RunControl | None = None) -> dict[str, Any]:
        """Run script `task` with the instance's parameters; TaskFailed / TaskStopped when it does not succeed."""
        control = control or RunControl()
        inputs = input_files or {}
        try:
            script = self.registry.get(task)
            values = check_arguments(script, parameters, set(inputs), strict=False)
        except InvalidInput as e:
            raise TaskFailed(f"{e.detail}: {'; '.join(e.problems)}") from None
        except DomainError as e:
            raise TaskFailed(e.detail) from None
        workdir = self.work_root / f"{instance_id}-{element_id}-{uuid.uuid4().hex[:8]}"
        output_dir = workdir / OUTPUT
        await asyncio.get_running_loop().run_in_executor(None, lambda: output_dir.mkdir(parents=True))
        try:
            await self._lay_out(workdir, inputs)
            journal = InstanceJournal(self.store, uuid.UUID(instance_id))
            code, why = await self._execute(script, values, workdir, output_dir, journal, control)
            files = await self._attach_outputs(journal, output_dir)
        finally:
            await asyncio.get_running_loop().run_in_executor(None, lambda: shutil.rmtree(workdir, ignore_errors=True))
        if control.reason is not None:
            raise TaskStopped(control.reason)
        if why is not None:
            raise TaskFailed(why)
        if code != 0:
            raise TaskFailed(f"{task} exited with status {code}")
        return {"exitCode": 0, "files": files}

    async def _lay_out(self, workdir: Path, inputs: dict[str, dict[str, Any]]) -> None:
        """Copy the input files into the working directory; TaskFailed for one with no safe place there."""
        loop = asyncio.get_running_loop()
        for name, info in inputs.items():
            if name.split("/")[0] == OUTPUT:  # it would pass for an output file
                raise TaskFailed(f"the input file {name[:80]!r} would land in the script's {OUTPUT}/ directory")
            try:
                target = await loop.run_in_executor(None, lambda n=name: path_under(workdir.resolve(), n, make_parents=True))
                await self.blobs.copy_to(info["sha256"], target)
            except (UnsafeArchive, OSError) as e:  # OSError: a file and a directory of one name, say
                raise TaskFailed(f"the input file {name[:80]!r} cannot be laid out: {e}") from None

    async def _execute(self, script: ScriptDescriptor, values: dict[str, Any], workdir: Path, output_dir: Path,
                       journal: InstanceJournal, control: RunControl) -> tuple[int | None, str | None]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": os.environ.get("LANG", "C.UTF-8"),
               "OUTPUT_DIR": str(output_dir)}
        batcher = OutputBatcher(journal, limit_bytes=script.output_limit_bytes)
        process = await asyncio.create_subprocess_exec(
            *script.argv(values), cwd=workdir, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            start_new_session=True, preexec_fn=_limits(script.memory_limit_bytes),
        )
        self.process_groups.add(process.pid)  # its own session: the group id is its pid
        pumps = [asyncio.create_task(batcher.pump(process.stdout, "stdout")),  # type: ignore[arg-type]
                 asyncio.create_task(batcher.pump(process.stderr, "stderr"))]  # type: ignore[arg-type]
        exited = asyncio.create_task(process.wait())
        stop, over = asyncio.create_task(control.event.wait()), asyncio.create_task(batcher.exceeded.wait())
        why: str | None = None
        try:
            why = await self._supervise(script, exited, stop, over, pumps)
            if not exited.done():
                await self._terminate(process, exited, hard=why is not None)
            drain = _SHUTDOWN_DRAIN_SECONDS if control.reason == "shutdown" else _READ_DRAIN_SECONDS
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(drain):
                    await asyncio.gather(*pumps, return_exceptions=True)
        finally:
            for task in (stop, over, *pumps):
                task.cancel()
            if process.returncode is None:
                await self._terminate(process, exited, hard=True)
            exited.cancel()  # at most still waiting for pipes that a process outside the group holds
            self.process_groups.discard(process.pid)
            with contextlib.suppress(DomainError):
                await batcher.close()
        if why is not None:
            with contextlib.suppress(DomainError):
                await journal.record(lambda i: i.append_output(f"procession: {why}", "stderr"))
        return process.returncode, why

    @staticmethod
    async def _supervise(script: ScriptDescriptor, exited: asyncio.Task[int], stop: asyncio.Task[Any],
                         over: asyncio.Task[Any], pumps: list[asyncio.Task[None]]) -> str | None:
        """Wait for the exit, a stop, too much output, the time limit or a failed write; why it failed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + script.time_limit_seconds
        watching: set[asyncio.Task[Any]] = {exited, stop, over, *pumps}
        while True:
            done, _ = await asyncio.wait(watching, timeout=max(0.0, deadline - loop.time()),
                                         return_when=asyncio.FIRST_COMPLETED)
            if not done:
                return f"timed out after {script.time_limit_seconds:g} s"
            if over in done:
                return f"output exceeded {script.output_limit_bytes} bytes"
            if exited in done or stop in done:
                return None
            for pump in done:
                if not pump.cancelled() and pump.exception() is not None:
                    return f"its output could not be recorded: {pump.exception()}"
            watching -= done

    async def _terminate(self, process: asyncio.subprocess.Process, exited: asyncio.Task[int], *, hard: bool) -> None:
        """SIGTERM the script's process group (SIGKILL when `hard`); SIGKILL what is left of it after the grace period."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL if hard else signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.stop_grace_seconds):
                await asyncio.shield(exited)
                while _group_alive(process.pid):  # a child that ignores SIGTERM may outlive the script
                    await asyncio.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the group outlives its leader's pid: no other process has it
        # Bounded: process.wait() also waits for its pipes, which a process that left the group
        # (setsid) may hold open for ever; the script itself is dead, its status known, once killed.
        await asyncio.wait({exited}, timeout=_KILLED_WAIT_SECONDS)

    async def _attach_outputs(self, journal: InstanceJournal, output_dir: Path) -> list[str]:
        """Store each regular file the script left in its output directory and record it."""
        found = await asyncio.get_running_loop().run_in_executor(None, _regular_files, output_dir)
        names = []
        for path in found[: self.max_files]:
            name = path.relative_to(output_dir).as_posix()
            try:
                blob = await self.blobs.put_file(path)
            except (OSError, DomainError) as e:
                log.warning("output file %s not kept: %s", name, e)
                continue
            media = mimetypes.guess_type(name)[0] or "application/octet-stream"
            with contextlib.suppress(DomainError):
                await journal.record(lambda i, n=name, b=blob, m=media: i.attach_file(n, b.size, m, b.sha256))
                names.append(name)
        return names


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def _regular_files(root: Path) -> list[Path]:
    # Symbolic links are skipped: a script must not hand out files outside its directory.
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


class LocalRuns:
    """The runs this process executes, by instance, so a stop asked here reaches them at once."""

    def __init__(self) -> None:
        self.controls: dict[tuple[uuid.UUID, int], RunControl] = {}

    def stop_instance(self, instance_id: uuid.UUID, reason: str) -> bool:
        """Stop this process's runs of an instance; whether there were any."""
        found = [c for (i, _), c in self.controls.items() if i == instance_id]
        for control in found:
            control.stop(reason)
        return bool(found)
