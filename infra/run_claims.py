"""Claims on requested script runs, so that exactly one worker runs each, across processes.

A claim is a row in `script_run_claims` with a lease its worker renews. The row is taken
with `FOR UPDATE SKIP LOCKED` (workers never queue behind each other) and written by an
upsert that only replaces a finished-lease row: the upsert is the arbiter, whatever two
workers' snapshots said. A claim whose lease ran out belongs to a lost worker; taking it
over counts an attempt, and the new holder fails the run instead of running it twice.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

Key = tuple[UUID, int]

_TAKE = """
INSERT INTO script_run_claims (instance_id, request_version, worker, lease_until)
VALUES ($1, $2, $3, clock_timestamp() + make_interval(secs => $4))
ON CONFLICT (instance_id, request_version) DO UPDATE
    SET worker = excluded.worker, lease_until = excluded.lease_until, attempts = script_run_claims.attempts + 1,
        claimed_at = clock_timestamp()
    WHERE NOT script_run_claims.done AND script_run_claims.lease_until <= clock_timestamp()
RETURNING attempts
"""
# A run waiting out a retry's delay is not claimed before its time.
_DUE = "(t.not_before IS NULL OR t.not_before <= clock_timestamp())"
_ANY = """
SELECT EXISTS (SELECT 1 FROM script_task_view t WHERE t.open AND {due} AND NOT EXISTS (
    SELECT 1 FROM script_run_claims c WHERE c.instance_id = t.instance_id AND c.request_version = t.request_version
    AND (c.done OR c.lease_until > clock_timestamp())))
""".format(due=_DUE)
_NEXT = """
SELECT t.instance_id, t.request_version FROM script_task_view t
WHERE t.open AND {due} AND NOT EXISTS (
    SELECT 1 FROM script_run_claims c WHERE c.instance_id = t.instance_id AND c.request_version = t.request_version
    AND (c.done OR c.lease_until > clock_timestamp()))
ORDER BY t.position LIMIT 1 FOR UPDATE OF t SKIP LOCKED
""".format(due=_DUE)


@dataclass(frozen=True)
class Claim:
    """A run this worker now holds: what to run, and how many workers held it before."""

    instance_id: UUID
    request_version: int
    element_id: str
    script: str
    parameters: dict[str, Any]
    stop_requested: bool
    attempts: int

    @property
    def key(self) -> Key:
        return (self.instance_id, self.request_version)


class RunClaims:
    """Takes, renews and gives back claims for one worker name."""

    def __init__(self, pool: asyncpg.Pool, worker: str, *, lease_seconds: float) -> None:
        self.pool = pool
        self.worker = worker
        self.lease_seconds = lease_seconds

    async def next(self) -> Claim | None:
        """Claim the oldest open run nobody holds, if any."""
        # Most wake-ups find nothing to run: one statement says so, without a transaction.
        if not await self.pool.fetchval(_ANY):
            return None
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(_NEXT)
            if row is None:
                return None
            attempts = await conn.fetchval(_TAKE, row[0], row[1], self.worker, self.lease_seconds)
            if attempts is None:
                return None
            task = await conn.fetchrow(
                "SELECT element_id, script, parameters, stop_requested FROM script_task_view"
                " WHERE instance_id = $1 AND request_version = $2", row[0], row[1],
            )
        return Claim(row[0], row[1], task["element_id"], task["script"], task["parameters"], task["stop_requested"], attempts)

    async def take(self, key: Key) -> bool:
        """Claim one run if no live worker holds it (a stop that finds nobody running it)."""
        return await self.pool.fetchval(_TAKE, key[0], key[1], self.worker, self.lease_seconds) is not None

    async def renew(self, keys: Collection[Key]) -> set[Key]:
        """Extend this worker's claims on `keys` (the runs it is running); the ones still held.

        Only the runs named are renewed, never "every claim of this worker": a claim whose run
        is no longer alive here (ended without `finish`) then runs out and is failed by the next
        claimant, instead of being kept alive for as long as this process lives.
        """
        if not keys:
            return set()
        ids, versions = zip(*keys)
        rows = await self.pool.fetch(
            "UPDATE script_run_claims c SET lease_until = clock_timestamp() + make_interval(secs => $2)"
            " FROM unnest($3::uuid[], $4::bigint[]) AS k(instance_id, request_version)"
            " WHERE c.instance_id = k.instance_id AND c.request_version = k.request_version"
            " AND c.worker = $1 AND NOT c.done RETURNING c.instance_id, c.request_version",
            self.worker, self.lease_seconds, list(ids), list(versions),
        )
        return {(r[0], r[1]) for r in rows}

    async def finish(self, key: Key) -> None:
        """The run's outcome is recorded: nobody may claim it again."""
        await self.pool.execute(
            "UPDATE script_run_claims SET done = true WHERE instance_id = $1 AND request_version = $2 AND worker = $3",
            key[0], key[1], self.worker,
        )

    async def to_stop(self, keys: list[Key]) -> set[Key]:
        """Which of these runs were asked to stop, or closed (the instance ended or was deleted)."""
        if not keys:
            return set()
        rows = await self.pool.fetch(
            "SELECT instance_id, request_version FROM script_task_view"
            " WHERE instance_id = ANY($1::uuid[]) AND (stop_requested OR NOT open)",
            [k[0] for k in keys],
        )
        return {(r[0], r[1]) for r in rows} & set(keys)

    async def open_runs(self, instance_id: UUID) -> list[Key]:
        """The runs of an instance still waiting for an outcome."""
        rows = await self.pool.fetch(
            "SELECT request_version FROM script_task_view WHERE instance_id = $1 AND open", instance_id
        )
        return [(instance_id, r[0]) for r in rows]
