"""Nothing the test session starts outlives it (a pytest plugin; tests/conftest.py installs it).

- The session tags its environment (`PYTEST_PROCESSION_SESSION`, after any prefix already set
  there), which every process it starts inherits: the services, brokers and databases of the
  tests, and what they start (scripts get a clean environment, but die with the service
  process that runs them).
- pytest becomes a child subreaper (Linux): a process whose parent dies is re-parented to
  pytest rather than to init, so no descendant gets out of sight.
- SIGTERM and SIGHUP end the run as Ctrl-C does (KeyboardInterrupt), so fixtures are finalized
  and the check below runs.
- A sweeper, in a session of its own, waits on a pipe only pytest holds: when pytest dies, even
  by SIGKILL, it stops every process that carries the tag.
- When the session ends, passed, failed or interrupted, after every fixture's teardown, any
  process still running that descends from pytest or carries the tag is reported as a failure
  ("processes left running", with their command lines) and stopped.

Run as `python -m tests.session_hygiene TAG`, this module is the sweeper.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra.child_processes import prctl, running

TAG = "PYTEST_PROCESSION_SESSION"  # not PROCESSION_*: tests strip those from the services' environment
SETTLE_SECONDS = 10.0  # what is stopping as the session ends (a released watchdog, say) may finish first
STOP_SECONDS = 10.0  # SIGTERM, then SIGKILL after this
_PR_SET_CHILD_SUBREAPER = 36
_WATCHDOG = "infra.postgres_guard"  # it stops and removes a database itself; the sweeper leaves it be
_SWEEPER: list[subprocess.Popen[bytes]] = []


@dataclass(frozen=True)
class Found:
    """A process that should not be running."""

    pid: int
    parent: int
    command: str

    def __str__(self) -> str:
        return f"pid {self.pid} (parent {self.parent}): {self.command}"


def _processes() -> Iterable[tuple[int, int, str]]:
    """(pid, parent pid, state) of every process."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # it ended meanwhile
        yield int(entry.name), int(fields[1]), fields[0]


def _tagged(pid: int, tag: str) -> bool:
    try:
        return f"{TAG}={tag}".encode() in (Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"))
    except OSError:
        return False


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def ancestors() -> set[int]:
    """This process and its ancestors (.ci/run, which tags the session for its own check, among them)."""
    parents = {pid: parent for pid, parent, _ in _processes()}
    chain, pid = set(), os.getpid()
    while pid > 1 and pid not in chain:
        chain.add(pid)
        pid = parents.get(pid, 0)
    return chain


def left_running(root: int | None, tag: str, *, spare: Iterable[int] = ()) -> list[Found]:
    """Every live process (zombies are dead) that descends from `root` or carries `tag`, but our
    ancestors and `spare`."""
    table = [(pid, parent) for pid, parent, state in _processes() if state not in ("Z", "X")]
    children: dict[int, list[int]] = {}
    for pid, parent in table:
        children.setdefault(parent, []).append(pid)
    ours: set[int] = set()
    frontier = [root] if root is not None else []
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in ours:
                ours.add(child)
                frontier.append(child)
    ours.update(pid for pid, _ in table if _tagged(pid, tag))
    ours -= {*ancestors(), *spare}
    parents = dict(table)
    return sorted((Found(pid, parents.get(pid, 0), _command(pid)) for pid in ours), key=lambda f: f.pid)


def stop(found: Iterable[Found]) -> None:
    """SIGTERM each process, SIGKILL those still running after STOP_SECONDS."""
    pids = [f.pid for f in found]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    while (pids := [p for p in pids if running(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def pytest_configure(config: pytest.Config) -> None:
    """Tag the session, keep its orphans, end on SIGTERM as on Ctrl-C, and start the sweeper."""
    if not Path("/proc/self/stat").exists() or _SWEEPER:
        return  # no /proc to look at (not Linux), or installed twice
    # Ours alone, even where the variable is set already (.ci/run sets a prefix, to find us).
    tag = os.environ[TAG] = f"{os.environ.get(TAG, '')}{os.getpid()}-{secrets.token_hex(6)}"
    prctl(_PR_SET_CHILD_SUBREAPER, 1)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    # Our end of the pipe is never inherited (O_CLOEXEC) nor closed: the kernel closes it when we end.
    read, _ours = os.pipe()
    try:
        _SWEEPER.append(subprocess.Popen(
            [sys.executable, "-m", "tests.session_hygiene", tag], stdin=read, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True, cwd=Path(__file__).resolve().parents[1]))
    finally:
        os.close(read)
    # Should pytest end without its session finishing (an internal error), what is left goes anyway.
    atexit.register(lambda: stop(left_running(os.getpid(), tag, spare=_spared())))


def _spared() -> list[int]:
    return [p.pid for p in _SWEEPER]


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> Generator[None]:
    """After every fixture's teardown: nothing the session started may still run."""
    result = yield
    tag = os.environ.get(TAG)
    if tag is None or not _SWEEPER:
        return result
    deadline = time.monotonic() + SETTLE_SECONDS
    while (found := left_running(os.getpid(), tag, spare=_spared())) and time.monotonic() < deadline:
        time.sleep(0.1)
    if found:
        stop(found)
        _fail(session, found)
    return result


def _fail(session: pytest.Session, found: list[Found]) -> None:
    """A failed entry of its own in the summary ("1 failed"), naming each process, and a failing exit status."""
    listing = "\n".join(str(f) for f in found)
    report = pytest.TestReport(
        nodeid="session end: processes left running", location=("session end", None, "processes left running"),
        keywords={}, outcome="failed", when="call",
        longrepr=f"{len(found)} process(es) the session started still ran after it ended (now stopped):\n{listing}")
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.stats.setdefault("failed", []).append(report)
    else:
        print(report.longrepr, file=sys.stderr)
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def sweep(tag: str) -> None:
    """The sweeper: wait until pytest is gone, then stop whatever carries its tag."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # it ends when pytest has, not before
    elders = ancestors()  # pytest and what runs it: those are not ours to stop
    while sys.stdin.buffer.read(65536):
        pass
    found = [f for f in left_running(None, tag, spare=elders) if _WATCHDOG not in f.command]
    if found:
        stop(found)


if __name__ == "__main__":
    sweep(sys.argv[1])
