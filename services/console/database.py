"""`procession db`: apply the migrations, or check that they are applied."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable

import asyncpg

from infra.postgres import create_pool
from services.bootstrap import database_url, migrate_all, schema_ready
from services.console.common import settings_of


def _with_pool(args: argparse.Namespace, act: Callable[[asyncpg.Pool], Awaitable[int]]) -> int:
    async def main() -> int:
        pool = await create_pool(await database_url(settings_of(args)), size=2)
        try:
            return await act(pool)
        finally:
            await pool.close()

    return asyncio.run(main())


async def _migrate(pool: asyncpg.Pool) -> int:
    await migrate_all(pool)
    print("migrations applied")
    return 0


async def _check(pool: asyncpg.Pool) -> int:
    if await schema_ready(pool):
        print("up to date: this version's migrations are applied")
        return 0
    print("not applied: run `procession db migrate`", file=sys.stderr)
    return 1


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `db ...` to the command line."""
    group = commands.add_parser("db", help="the database schema")
    actions = group.add_subparsers(dest="action", required=True)
    migrate = actions.add_parser("migrate", parents=[common],
                                 help="apply this version's migrations (safe while other processes run)")
    migrate.set_defaults(func=lambda a: _with_pool(a, _migrate))
    check = actions.add_parser("check", parents=[common], help="exit 0 when the migrations are applied, 1 when not")
    check.set_defaults(func=lambda a: _with_pool(a, _check))
