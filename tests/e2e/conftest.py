"""The real app on a real socket, with an admin and a user token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from infra.settings import Settings
from services.app import create_app
from services.http.app_keys import RUNTIME


@dataclass
class Api:
    """A client with role-named helpers: `api.admin.get(...)`, `api.user.post(...)`."""

    client: TestClient
    admin_token: str
    user_token: str

    def headers(self, token: str | None, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers.update(extra or {})
        return headers

    async def call(self, method: str, path: str, *, token: str | None, headers: dict[str, str] | None = None, **kw: Any):
        return await self.client.request(method, path, headers=self.headers(token, headers), **kw)

    async def admin(self, method: str, path: str, **kw: Any):
        return await self.call(method, path, token=self.admin_token, **kw)

    async def user(self, method: str, path: str, **kw: Any):
        return await self.call(method, path, token=self.user_token, **kw)

    @property
    def runtime(self):
        return self.client.app[RUNTIME]

    async def event_count(self) -> int:
        """How many events the store holds (refused requests must not change it)."""
        return await self.runtime.pool.fetchval("SELECT count(*) FROM procession_events")

    async def raw(self, request: bytes) -> bytes:
        """Send bytes an HTTP client library would refuse to send, and read the answer."""
        reader, writer = await asyncio.open_connection(self.client.server.host, self.client.server.port)
        try:
            writer.write(request)
            await writer.drain()
            return await reader.read()
        finally:
            writer.close()
            await writer.wait_closed()


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        tokens = client.app[RUNTIME].tokens
        yield Api(client, await tokens.create("alice", "admin"), await tokens.create("bob", "user"))
    finally:
        await client.close()
