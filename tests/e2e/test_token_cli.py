"""`procession token create|list|revoke` as an operator runs them, against a running service."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from datetime import timedelta
from pathlib import Path

CLI = str(Path(sys.executable).with_name("procession"))


async def cli(*args: str, env: dict[str, str], ok: bool = True) -> tuple[str, str]:
    process = await asyncio.create_subprocess_exec(CLI, *args, env=env, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    assert (process.returncode == 0) is ok, err.decode()
    return out.decode(), err.decode()


async def test_create_list_revoke_and_the_running_service_refuses_the_revoked_token(api, settings):
    env = {**os.environ, "DATABASE_URL": settings.database_url, "PROCESSION_DATA_DIR": str(settings.data_dir)}
    out, err = await cli("token", "create", "--user", "carol", "--expires-in", "30d", "--team", "repairs", env=env)
    token = out.strip()
    ident = re.search(r"token id ([0-9a-f-]{36})", err).group(1)
    r = await api.call("GET", "/api/process/v1", token=token)
    assert r.status == 200

    listing, _ = await cli("token", "list", env=env)
    line = next(x for x in listing.splitlines() if x.startswith(ident))
    assert "carol" in line and "user" in line and "repairs" in line and "active" in line
    assert re.search(r"\d{4}-\d\d-\d\dT", line.split("repairs")[1])  # created, last used, expiry
    assert token not in listing and token[4:20] not in listing

    signal = api.runtime.tokens.invalidated
    await cli("token", "revoke", ident, env=env)
    await asyncio.wait_for(signal.wait(), 30)

    r = await api.call("GET", "/api/process/v1", token=token)
    assert r.status == 401
    listing, _ = await cli("token", "list", env=env)
    assert "revoked" in next(x for x in listing.splitlines() if x.startswith(ident))


async def test_revoking_an_unknown_id_fails_and_a_bad_duration_is_refused(settings):
    env = {**os.environ, "DATABASE_URL": settings.database_url, "PROCESSION_DATA_DIR": str(settings.data_dir)}
    _, err = await cli("token", "revoke", "00000000-0000-0000-0000-000000000000", env=env, ok=False)
    assert "no token" in err
    _, err = await cli("token", "create", "--user", "x", "--expires-in", "soon", env=env, ok=False)
    assert "30d" in err


async def test_an_expired_token_is_a_401_problem(api):
    tokens = api.runtime.tokens
    ident, token = await tokens.issue("dave", "user", expires_in=timedelta(days=1))
    assert (await api.call("GET", "/api/process/v1", token=token)).status == 200
    signal = tokens.invalidated
    await api.runtime.pool.execute("UPDATE procession_tokens SET expires_at = now() WHERE id = $1", ident)
    await asyncio.wait_for(signal.wait(), 30)

    r = await api.call("GET", "/api/process/v1", token=token)

    assert r.status == 401 and r.content_type == "application/problem+json"
    assert "WWW-Authenticate" in r.headers
