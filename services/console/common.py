"""What every operator command shares: settings from options, the runtime, the operator, output."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from events.errors import DomainError
from infra.settings import Settings
from infra.tokens import Principal
from services.bootstrap import Runtime, SchemaOutdated, runtime

Action = Callable[[Runtime, argparse.Namespace], Awaitable[Any]]


def operator() -> Principal:
    """Who acts from a terminal: the OS user, with the admin role (the shell is the credential)."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # a container user without a passwd entry
        name = "operator"
    return Principal(f"cli:{name}", "admin")


def common_options(*, output: bool = True) -> argparse.ArgumentParser:
    """Options every command takes, before or after its name (defaults sit on the root parser).

    Without `output`, no `-o`: for the commands that use `-o` for a file already (`events export`).
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--database-url", default=argparse.SUPPRESS,
                        help="PostgreSQL URL (env DATABASE_URL); unset: the embedded server under the data dir")
    common.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS,
                        help="data directory (env PROCESSION_DATA_DIR)")
    if output:
        common.add_argument("-o", "--format", choices=("table", "json"), default=argparse.SUPPRESS,
                            help="output format (default table)")
    return common


def settings_of(args: argparse.Namespace) -> Settings:
    """The one settings object: the environment, overridden by the command-line options given."""
    options = {"host": "host", "port": "port", "kafka": "kafka_bootstrap_servers",
               "database_url": "database_url", "data_dir": "data_dir"}
    return Settings(**{f: getattr(args, n) for n, f in options.items() if getattr(args, n, None) is not None})


def run(args: argparse.Namespace, action: Action, *, columns: Sequence[str] = ()) -> int:
    """Open the runtime (no migration), act, print the result.

    The projections follow while the command runs, so a command reads its own writes even
    when no service is running to bring the read models up to date.

    Exit status: 0 done, 1 refused (not found, conflict, invalid), 2 the schema needs `db migrate`.
    """
    async def act() -> Any:
        async with runtime(settings_of(args), follow=True, migrate=False) as rt:
            return await action(rt, args)

    try:
        result = asyncio.run(act())
    except SchemaOutdated as e:
        print(f"procession: {e}", file=sys.stderr)
        return 2
    except DomainError as e:
        problems = getattr(e, "problems", None) or []
        print(f"procession: {e.title}: {e.detail}", *(f"  - {p}" for p in problems), sep="\n", file=sys.stderr)
        return 1
    except ValidationError as e:
        print(f"procession: invalid input: {e.error_count()} error(s)\n{e}", file=sys.stderr)
        return 1
    emit(result, getattr(args, "format", "table"), columns)
    return 0


def emit(result: Any, fmt: str, columns: Sequence[str] = ()) -> None:
    """Print a result as JSON, or as a table (a list of rows) or `name: value` lines (one object)."""
    if result is None:
        return
    if fmt == "json":
        sys.stdout.write(orjson.dumps(result, default=_plain, option=orjson.OPT_INDENT_2).decode() + "\n")
    elif isinstance(result, list):
        sys.stdout.write(table(result, columns))
    elif isinstance(result, dict):
        width = max((len(k) for k in result), default=0)
        sys.stdout.write("".join(f"{k.ljust(width)}  {_cell(v)}\n" for k, v in result.items()))
    else:
        print(result)


def table(rows: list[dict[str, Any]], columns: Sequence[str] = ()) -> str:
    """Rows as aligned text columns under a header."""
    columns = list(columns) or list(dict.fromkeys(k for row in rows for k in row))
    cells = [[c.upper() for c in columns]] + [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "".join("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() + "\n" for line in cells)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, (dict, list)):
        return orjson.dumps(value, default=_plain).decode()
    return str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
