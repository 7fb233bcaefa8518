"""PostgreSQL leases: one holder at a time for a named singleton worker.

A lease is taken when free or expired and renewed by its holder; work done under a
lease is fenced by `held_in(conn)`, checked in the same transaction that records
progress, so a holder that lost its lease (paused, partitioned) cannot overwrite the
new holder's progress.
"""

from __future__ import annotations

import os
import socket
import time
import uuid

import asyncpg


class Lease:
    """A named lease held by this process instance (a random holder id)."""

    def __init__(self, pool: asyncpg.Pool, name: str, *, ttl_seconds: float = 10.0) -> None:
        self.pool = pool
        self.name = name
        self.ttl_seconds = ttl_seconds
        # Host and pid first: an operator (or a test) can tell which process holds it.
        self.holder = f"{name}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._renewed: float | None = None  # monotonic time of the last successful take or renewal
        self._tried: float | None = None  # ... and of the last attempt

    async def keep(self) -> bool:
        """Like `acquire`, but goes to the database only once a third of the lease has passed.

        For loops that check the lease at every step (every append, say): a recent renewal
        answers yes (the lease outlives it by two thirds), a recent failed attempt answers no
        (another holder's lease is then taken over at most a third of a lease after it ran out).
        """
        now = time.monotonic()
        if self._renewed is not None and now - self._renewed < self.ttl_seconds / 3:
            return True
        if self._renewed is None and self._tried is not None and now - self._tried < self.ttl_seconds / 3:
            return False  # another holder's lease; it cannot have run out sooner than this
        self._tried = now
        return await self.acquire()

    async def acquire(self) -> bool:
        """Take or renew the lease; True while we hold it."""
        holder = await self.pool.fetchval(
            "INSERT INTO procession_leases (name, holder, expires_at)"
            " VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3))"
            " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at"
            " WHERE procession_leases.holder = excluded.holder OR procession_leases.expires_at < clock_timestamp()"
            " RETURNING holder",
            self.name, self.holder, self.ttl_seconds,
        )
        self._renewed = time.monotonic() if holder == self.holder else None
        return holder == self.holder

    async def held_in(self, conn: asyncpg.Connection) -> bool:
        """Whether we still hold the lease, locking it for the caller's transaction."""
        holder = await conn.fetchval(
            "SELECT holder FROM procession_leases WHERE name = $1 AND expires_at > clock_timestamp() FOR UPDATE",
            self.name,
        )
        return holder == self.holder

    async def release(self) -> None:
        """Give the lease up so another process can take it at once."""
        self._renewed = None
        await self.pool.execute(
            "DELETE FROM procession_leases WHERE name = $1 AND holder = $2", self.name, self.holder
        )
