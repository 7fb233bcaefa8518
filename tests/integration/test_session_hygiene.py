"""Nothing a test run starts outlives it (tests/session_hygiene.py): a run of its own, in a process of
its own, leaves a child behind, and ends passing, interrupted or SIGKILLed."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import pytest

from tests.polling import process_gone, until
from tests.session_hygiene import TAG

ROOT = Path(__file__).resolve().parents[2]
# The inner run's one test starts a child it never stops, notes its pid, and (when asked) waits.
INNER = """
import os, subprocess, sys, time
from pathlib import Path

children = []

def test_leaves_a_child():
    children.append(subprocess.Popen(["sleep", "313"]))
    Path(os.environ["CHILD_PID_FILE"]).write_text(str(children[-1].pid))
    if os.environ.get("INNER_WAITS"):
        time.sleep(600)
"""


async def inner_run(tmp_path: Path, *, waits: bool) -> tuple[asyncio.subprocess.Process, Path]:
    (tmp_path / "test_inner.py").write_text(INNER)
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pid_file = tmp_path / "child.pid"
    # Not our session's tag: the inner run is a session of its own (ours would be its to stop).
    env = {k: v for k, v in os.environ.items() if k != TAG}
    env.update(CHILD_PID_FILE=str(pid_file), **({"INNER_WAITS": "1"} if waits else {}))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pytest", "-p", "tests.session_hygiene", "-p", "no:cacheprovider", "-q",
        "--rootdir", str(tmp_path), str(tmp_path / "test_inner.py"),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        # Ctrl+C works in the inner run even where ours ignores SIGINT (a background job of a script).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    return process, pid_file


def written_pid(pid_file: Path) -> int | None:
    """The pid the inner test noted, once it is there in full."""
    text = pid_file.read_text() if pid_file.exists() else ""
    return int(text) if text.isdigit() else None


async def test_a_child_left_running_fails_the_run_and_is_stopped(tmp_path: Path):
    process, pid_file = await inner_run(tmp_path, waits=False)
    out = (await process.communicate())[0].decode()
    child = int(pid_file.read_text())

    assert process.returncode == pytest.ExitCode.TESTS_FAILED, out
    assert "session end: processes left running" in out and "1 failed, 1 passed" in out, out
    assert re.search(rf"pid {child} \(parent \d+\): sleep 313", out), out
    assert process_gone(child)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_an_interrupted_run_stops_what_it_started(tmp_path: Path, sig: signal.Signals):
    process, pid_file = await inner_run(tmp_path, waits=True)
    child = await until(lambda: written_pid(pid_file), within=60)
    process.send_signal(sig)
    out = (await process.communicate())[0].decode()

    assert process.returncode == pytest.ExitCode.INTERRUPTED, out
    assert re.search(rf"pid {child} \(parent \d+\): sleep 313", out), out
    assert process_gone(child)


async def test_a_sigkilled_run_leaves_nothing_either(tmp_path: Path):
    process, pid_file = await inner_run(tmp_path, waits=True)
    child = await until(lambda: written_pid(pid_file), within=60)
    process.kill()  # no finalizer, no atexit: only the sweeper is left to act
    await process.communicate()

    await until(lambda: process_gone(child), within=60)
