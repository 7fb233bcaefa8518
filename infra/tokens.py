"""API tokens: stored as SHA-256 hashes, never in plain text; listed, revoked and expired by id.

Each process caches the tokens it has seen for a short while. A revocation, an expiry change,
a role change or a user's teams changing is announced by the database (a trigger NOTIFYs
`procession_tokens`), and every process LISTENing drops the entries at once, so a revoked
token is refused everywhere well within a second; an expiry is checked on every use. If the
listening connection is lost the cache is emptied and bypassed until it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import asyncpg

log = logging.getLogger(__name__)
CHANNEL = "procession_tokens"
_DURATION = re.compile(r"(\d{1,6})([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class Principal:
    """Who is calling, with which role, and the teams their user belongs to."""

    user: str
    role: str
    teams: tuple[str, ...] = field(default=(), compare=False)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class TokenInfo:
    """A token as `procession token list` shows it: everything but the secret."""

    id: UUID
    user: str
    role: str
    teams: tuple[str, ...]
    created: datetime
    last_used: datetime | None
    expires: datetime | None
    revoked: datetime | None

    @property
    def state(self) -> str:
        """`active`, `revoked` or `expired` (now)."""
        if self.revoked is not None:
            return "revoked"
        if self.expires is not None and self.expires <= datetime.now(timezone.utc):
            return "expired"
        return "active"


def parse_duration(text: str) -> timedelta:
    """`30d`, `12h`, `90m`, `3600s`, `2w` (or a sum like `1d12h`); ValueError otherwise."""
    parts = _DURATION.findall(text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise ValueError(f"not a duration like 30d, 12h or 90m: {text!r}")
    seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError(f"a duration must be longer than zero: {text!r}")
    return timedelta(seconds=seconds)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_LOOKUP = """
UPDATE procession_tokens t SET last_used_at = clock_timestamp()
WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > clock_timestamp())
RETURNING username, role, expires_at,
    coalesce((SELECT teams FROM procession_users u WHERE u.username = t.username), '{}') AS teams
"""

_LIST = """
SELECT t.id, t.username, t.role, coalesce(u.teams, '{}') AS teams, t.created_at, t.last_used_at,
       t.expires_at, t.revoked_at
FROM procession_tokens t LEFT JOIN procession_users u USING (username)
ORDER BY t.created_at, t.id
"""


@dataclass
class _Cached:
    until: float
    principal: Principal
    expires: datetime | None


class TokenStore:
    """Creates, lists, revokes and looks up tokens; caches hits until told they changed."""

    def __init__(self, pool: asyncpg.Pool, *, cache_seconds: float = 30.0) -> None:
        self.pool = pool
        self.cache_seconds = cache_seconds
        self._cache: dict[str, _Cached] = {}
        self._listener: asyncpg.Connection | None = None
        self._listening = False
        self._generation = 0  # bumped at every drop: a lookup that raced one is not cached
        # Set (and replaced) whenever a notification dropped cache entries: tests wait on it.
        self.invalidated = asyncio.Event()

    async def start(self) -> None:
        """LISTEN for changes made by any process; without it nothing is cached."""
        try:
            self._listener = await self.pool.acquire()
            await self._listener.add_listener(CHANNEL, self._on_notify)
            self._listener.add_termination_listener(self._on_lost)
            self._listening = True
        except (OSError, asyncpg.PostgresError):
            log.warning("LISTEN on %s unavailable; tokens are looked up on every request", CHANNEL, exc_info=True)
            await self._release()

    async def stop(self) -> None:
        """Stop listening and give the connection back."""
        self._listening = False
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.remove_listener(CHANNEL, self._on_notify)
        await self._release()

    async def _release(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self.pool.release(self._listener)
            self._listener = None

    def _on_lost(self, _conn: Any) -> None:
        # Notifications may have been missed: trust nothing cached from now on.
        self._listening = False
        self._drop(lambda _digest, _entry: True)

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        kind, _, value = payload.partition(":")
        if kind == "user":
            self._drop(lambda _digest, entry: entry.principal.user == value)
        else:
            self._drop(lambda hashed, _entry: hashed == value)

    def _drop(self, matches: Any) -> None:
        for hashed in [d for d, e in self._cache.items() if matches(d, e)]:
            del self._cache[hashed]
        self._generation += 1
        signal, self.invalidated = self.invalidated, asyncio.Event()
        signal.set()

    async def create(
        self, user: str, role: str, *, expires_in: timedelta | None = None, teams: list[str] | None = None
    ) -> str:
        """A new random token for a user; see `issue`."""
        return (await self.issue(user, role, expires_in=expires_in, teams=teams))[1]

    async def issue(
        self, user: str, role: str, *, expires_in: timedelta | None = None, teams: list[str] | None = None
    ) -> tuple[UUID, str]:
        """A new token's id and secret (expiring after `expires_in`, if given); only its hash is stored.

        `teams`, when given, replaces the user's teams (shared by all of the user's tokens).
        """
        token = "prc_" + secrets.token_urlsafe(32)
        async with self.pool.acquire() as conn, conn.transaction():
            ident = await conn.fetchval(
                "INSERT INTO procession_tokens (token_hash, username, role, expires_at) "
                "VALUES ($1, $2, $3, clock_timestamp() + $4::interval) RETURNING id",
                digest(token), user, role, expires_in,
            )
            if teams is not None:
                await self._set_teams(conn, user, teams)
        return ident, token

    async def set_teams(self, user: str, teams: list[str]) -> None:
        """Replace a user's teams."""
        async with self.pool.acquire() as conn:
            await self._set_teams(conn, user, teams)

    @staticmethod
    async def _set_teams(conn: asyncpg.Connection, user: str, teams: list[str]) -> None:
        await conn.execute(
            "INSERT INTO procession_users (username, teams) VALUES ($1, $2) "
            "ON CONFLICT (username) DO UPDATE SET teams = EXCLUDED.teams",
            user, sorted(set(teams)),
        )

    async def list_all(self) -> list[TokenInfo]:
        """Every token, oldest first, without its secret."""
        rows = await self.pool.fetch(_LIST)
        return [TokenInfo(r["id"], r["username"], r["role"], tuple(r["teams"]), r["created_at"], r["last_used_at"],
                          r["expires_at"], r["revoked_at"]) for r in rows]

    async def revoke(self, token_id: str) -> bool:
        """Revoke a token by its id (a token revoked already stays so); False if there is none."""
        try:
            ident = UUID(token_id)
        except ValueError:
            return False
        status = await self.pool.execute(
            "UPDATE procession_tokens SET revoked_at = coalesce(revoked_at, clock_timestamp()) WHERE id = $1", ident
        )
        return status != "UPDATE 0"

    async def principal(self, token: str) -> Principal | None:
        """The principal a live token belongs to, or None (unknown, revoked or expired)."""
        hashed = digest(token)
        now = time.monotonic()
        cached = self._cache.get(hashed)
        if cached is not None and cached.until > now:
            if cached.expires is None or cached.expires > datetime.now(timezone.utc):
                return cached.principal
            del self._cache[hashed]
            return None
        generation = self._generation
        row = await self.pool.fetchrow(_LOOKUP, hashed)
        if row is None:
            return None
        principal = Principal(row["username"], row["role"], tuple(row["teams"]))
        if self._listening and generation == self._generation:
            self._cache[hashed] = _Cached(now + self.cache_seconds, principal, row["expires_at"])
        return principal
