"""Tamper evidence, export and import, through the library functions and the real CLI."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest

from infra.settings import Settings
from services.audit import log as audit
from services.bootstrap import runtime
from tests.conftest import TEMPLATE, with_database
from services.definitions.commands import DeleteDefinition
from services.definitions.commands import RemoveVersion
from services.definitions.commands import RenameDefinition
from services.definitions.commands import SaveDefinition
from services.definitions.commands import TagVersion
from tests.factories import ALICE

VIEWS = ("definition_view", "definition_version_view", "definition_tag_view")
CLI = str(Path(sys.executable).with_name("procession"))


async def make_history(settings: Settings) -> None:
    """A varied history through the application service, as a user would make it."""
    alice = ALICE
    async with runtime(settings) as rt:
        d = rt.definitions
        await d.save(alice, SaveDefinition("A", {"script": "s"}))
        await d.save(alice, SaveDefinition("A", {"script": "s", "description": "two"}))
        await d.tag(alice, TagVersion("A", "1", "PROD"))
        await d.tag(alice, TagVersion("A", "2", "PROD"))
        await d.save(alice, SaveDefinition("B", {"script": "t"}))
        await d.rename(alice, RenameDefinition("B", "C"))
        await d.remove_version(alice, RemoveVersion("A", "~LATEST"))
        await d.save(alice, SaveDefinition("D", {"script": "u"}))
        await d.delete(alice, DeleteDefinition("D"))


async def snapshot(url: str) -> dict[str, list]:
    conn = await asyncpg.connect(url)
    try:
        return {t: [tuple(r) for r in await conn.fetch(f"SELECT * FROM {t} ORDER BY 1, 2")] for t in VIEWS}
    finally:
        await conn.close()


async def cli(*args: str, url: str, stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
    env = {**os.environ, "DATABASE_URL": url}
    process = await asyncio.create_subprocess_exec(
        CLI, *args, env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(stdin)
    return process.returncode, out, err


@pytest.fixture
async def empty_url(admin_url, template_url):
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin_url)
    await conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    await conn.close()
    yield with_database(admin_url, name)
    conn = await asyncpg.connect(admin_url)
    await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await conn.close()


async def test_verify_reports_an_intact_chain(settings, database_url):
    await make_history(settings)
    code, out, _ = await cli("verify", url=database_url)
    assert code == 0
    assert out.startswith(b"intact:")


async def test_verify_finds_a_changed_byte_in_a_stored_event(settings, database_url, pool):
    await make_history(settings)
    target = await pool.fetchval("SELECT notification_id FROM procession_events ORDER BY 1 OFFSET 3 LIMIT 1")
    await pool.execute(
        "UPDATE procession_events SET state = overlay(state placing '\\x20'::bytea from 3 for 1)"
        " WHERE notification_id = $1", target,
    )
    code, out, _ = await cli("verify", url=database_url)
    assert code == 1
    assert f"BROKEN at position {target}".encode() in out


async def test_export_then_import_into_an_empty_store_reproduces_the_read_models(settings, database_url, empty_url):
    await make_history(settings)
    code, exported, _ = await cli("events", "export", url=database_url)
    assert code == 0
    assert exported.count(b"\n") == await _count(database_url)
    code, _, err = await cli("events", "import", url=empty_url, stdin=exported)
    assert code == 0, err
    assert await snapshot(empty_url) == await snapshot(database_url)
    code, out, _ = await cli("verify", url=empty_url)
    assert code == 0


async def test_import_refuses_an_altered_export_and_writes_nothing(settings, database_url, empty_url):
    await make_history(settings)
    _, exported, _ = await cli("events", "export", url=database_url)
    altered = exported.replace(b'\\"two\\"', b'\\"TWO\\"', 1)
    assert altered != exported
    code, _, err = await cli("events", "import", url=empty_url, stdin=altered)
    assert code == 1
    assert b"does not match its hash" in err
    assert await _count(empty_url) == 0


async def test_import_refuses_a_store_that_is_not_empty(settings, database_url):
    await make_history(settings)
    _, exported, _ = await cli("events", "export", url=database_url)
    before = await _count(database_url)
    code, _, err = await cli("events", "import", url=database_url, stdin=exported)
    assert code == 1
    assert b"not empty" in err
    assert await _count(database_url) == before


async def test_verify_walks_every_event(settings):
    await make_history(settings)
    async with runtime(settings, follow=False) as rt:
        verdict = await audit.verify(rt.store)
        assert verdict.intact
        assert verdict.checked == await rt.store.max_position()


async def _count(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("SELECT count(*) FROM procession_events")
    finally:
        await conn.close()
