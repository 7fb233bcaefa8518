"""Browser sessions of the portal, kept in PostgreSQL.

A session is started by signing in with an API token; the browser holds only a random id
(its hash is stored) and the session names the token's hash, so a session lives only while
its token does: a revoked or expired token ends its sessions at once (and deleting a token
deletes them). A session unused for `idle_seconds` is over.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import asyncpg

from infra.tokens import Principal, digest


# A token a session may still use: not revoked, not expired.
_LIVE = "t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > clock_timestamp())"


@dataclass(frozen=True)
class Session:
    """A live session: who it is, and the CSRF token its forms must carry."""

    principal: Principal
    csrf: str


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """Starts, finds (sliding the expiry) and ends portal sessions."""

    def __init__(self, pool: asyncpg.Pool, *, idle_seconds: float) -> None:
        self.pool = pool
        self.idle_seconds = idle_seconds

    async def start(self, token: str) -> tuple[str, Session] | None:
        """A new session for a valid token: its id (for the cookie) and the session; None for a bad token."""
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        row = await self.pool.fetchrow(
            "WITH t AS (SELECT token_hash, username, role FROM procession_tokens t WHERE token_hash = $1"
            f" AND {_LIVE}),"
            " s AS (INSERT INTO procession_sessions (session_hash, token_hash, csrf)"
            " SELECT $2, token_hash, $3 FROM t RETURNING 1)"
            " SELECT username, role, coalesce((SELECT teams FROM procession_users u WHERE u.username = t.username),"
            " '{}') AS teams FROM t, s",
            digest(token), _hash(session_id), csrf,
        )
        if row is None:
            return None
        # Old sessions are cleared here, where it costs one statement per sign-in.
        await self.pool.execute(
            "DELETE FROM procession_sessions WHERE last_seen < clock_timestamp() - make_interval(secs => $1)",
            self.idle_seconds,
        )
        return session_id, Session(Principal(row["username"], row["role"], tuple(row["teams"])), csrf)

    async def find(self, session_id: str) -> Session | None:
        """The live session with this id, its expiry moved on; None when unknown, idle too long or revoked."""
        row = await self.pool.fetchrow(
            "UPDATE procession_sessions s SET last_seen = clock_timestamp() FROM procession_tokens t"
            " WHERE s.session_hash = $1 AND t.token_hash = s.token_hash"
            f" AND s.last_seen >= clock_timestamp() - make_interval(secs => $2) AND {_LIVE}"
            " RETURNING t.username, t.role, s.csrf,"
            " coalesce((SELECT teams FROM procession_users u WHERE u.username = t.username), '{}') AS teams",
            _hash(session_id), self.idle_seconds,
        )
        return Session(Principal(row["username"], row["role"], tuple(row["teams"])), row["csrf"]) if row else None

    async def alive(self, session_id: str) -> bool:
        """Whether the session is still live; unlike `find` it does not count as activity."""
        return bool(await self.pool.fetchval(
            "SELECT 1 FROM procession_sessions s JOIN procession_tokens t ON t.token_hash = s.token_hash"
            f" WHERE s.session_hash = $1 AND s.last_seen >= clock_timestamp() - make_interval(secs => $2) AND {_LIVE}",
            _hash(session_id), self.idle_seconds,
        ))

    async def end(self, session_id: str) -> None:
        """Sign out: the session is gone."""
        await self.pool.execute("DELETE FROM procession_sessions WHERE session_hash = $1", _hash(session_id))
