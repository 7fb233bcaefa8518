"""API tokens: stored as SHA-256 hashes, never in plain text."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

import asyncpg

_CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class Principal:
    """Who is calling, and with which role."""

    user: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def digest(token: str) -> str:
    """The stored form of a token (its SHA-256, hex)."""
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """Creates tokens and looks them up, caching hits briefly to spare the database."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._cache: dict[str, tuple[float, Principal]] = {}

    async def create(self, user: str, role: str) -> str:
        """A new random token for a user; only its hash is stored."""
        token = "prc_" + secrets.token_urlsafe(32)
        await self.pool.execute(
            "INSERT INTO procession_tokens (token_hash, username, role) VALUES ($1, $2, $3)",
            digest(token), user, role,
        )
        return token

    async def principal(self, token: str) -> Principal | None:
        """The principal a token belongs to, or None."""
        hashed = digest(token)
        cached = self._cache.get(hashed)
        now = time.monotonic()
        if cached and cached[0] > now:
            return cached[1]
        row = await self.pool.fetchrow(
            "SELECT username, role FROM procession_tokens WHERE token_hash = $1", hashed
        )
        if row is None:
            return None
        principal = Principal(row["username"], row["role"])
        self._cache[hashed] = (now + _CACHE_SECONDS, principal)
        return principal

    async def revoke(self, token: str) -> bool:
        """Delete a token (and, by cascade, every portal session started with it); False if unknown."""
        self._cache.pop(digest(token), None)
        deleted = await self.pool.execute("DELETE FROM procession_tokens WHERE token_hash = $1", digest(token))
        return deleted != "DELETE 0"
