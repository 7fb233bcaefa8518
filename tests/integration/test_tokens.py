"""Tokens: listed without secrets, revoked or expired everywhere at once, teams on the user."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from infra.tokens import TokenStore, parse_duration


@pytest.fixture
async def stores(pool):
    """Two token stores on one database, as two service processes have; caches that never time out."""
    started = [TokenStore(pool, cache_seconds=3600), TokenStore(pool, cache_seconds=3600)]
    for store in started:
        await store.start()
    yield started
    for store in started:
        await store.stop()


async def invalidation(store: TokenStore, change) -> None:
    """Run `change` and wait (bounded) until `store` was told about it."""
    signal = store.invalidated
    await change()
    await asyncio.wait_for(signal.wait(), 30)


async def test_a_revoked_token_is_refused_by_every_process_that_had_it_cached(stores):
    here, there = stores
    ident, token = await here.issue("bob", "user")
    assert (await there.principal(token)).user == "bob"  # cached there now

    await invalidation(there, lambda: here.revoke(str(ident)))

    assert await there.principal(token) is None
    assert await here.principal(token) is None


async def test_revoking_one_token_keeps_the_users_other_tokens(stores):
    here, there = stores
    first, token = await here.issue("bob", "user")
    other = await here.create("bob", "user")
    assert await there.principal(other) is not None

    await invalidation(there, lambda: here.revoke(str(first)))

    assert await there.principal(token) is None
    assert (await there.principal(other)).user == "bob"


async def test_an_expired_token_is_refused(stores):
    here, there = stores
    ident, token = await here.issue("bob", "user", expires_in=timedelta(days=30))
    assert await there.principal(token) is not None

    await invalidation(there, lambda: here.pool.execute(
        "UPDATE procession_tokens SET expires_at = now() - interval '1 second' WHERE id = $1", ident))

    assert await there.principal(token) is None


async def test_a_cached_token_is_refused_once_its_expiry_passes_without_any_notification(stores):
    store = stores[0]
    token = await store.create("bob", "user", expires_in=timedelta(seconds=1))
    assert await store.principal(token) is not None

    for _ in range(100):  # bounded: the expiry is one second away
        if await store.principal(token) is None:
            break
        await asyncio.sleep(0.05)
    assert await store.principal(token) is None


async def test_teams_belong_to_the_user_and_a_change_reaches_cached_tokens(stores):
    here, there = stores
    token = await here.create("bob", "user", teams=["repairs", "lettings"])
    assert (await there.principal(token)).teams == ("lettings", "repairs")

    await invalidation(there, lambda: here.set_teams("bob", ["estates"]))

    assert (await there.principal(token)).teams == ("estates",)


async def test_the_list_shows_each_token_without_its_secret_and_marks_revoked_and_expired(stores):
    store = stores[0]
    keep, kept = await store.issue("alice", "admin")
    gone, _ = await store.issue("bob", "user", expires_in=timedelta(days=30), teams=["repairs"])
    old, _ = await store.issue("carol", "user")
    await store.revoke(str(gone))
    await store.pool.execute("UPDATE procession_tokens SET expires_at = now() - interval '1 day' WHERE id = $1", old)
    await store.principal(kept)

    listed = {t.id: t for t in await store.list_all()}

    assert [listed[i].state for i in (keep, gone, old)] == ["active", "revoked", "expired"]
    assert listed[keep].last_used is not None and listed[gone].last_used is None
    assert listed[gone].expires is not None and listed[keep].expires is None
    assert listed[gone].teams == ("repairs",) and listed[gone].role == "user"
    assert kept not in repr(list(listed.values()))


async def test_revoking_an_unknown_or_malformed_id_says_so(stores):
    assert await stores[0].revoke("00000000-0000-0000-0000-000000000000") is False
    assert await stores[0].revoke("not-an-id") is False


@pytest.mark.parametrize(("text", "seconds"), [("30d", 30 * 86400), ("12h", 43200), ("90m", 5400), ("1w", 604800),
                                               ("1d12h", 129600), ("45s", 45)])
def test_durations(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "30", "d", "30x", "-1d", "0d", "1d 2h", "30 days"])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError):
        parse_duration(text)
