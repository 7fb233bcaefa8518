"""The `procession` command: serve, tokens, projections."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from importlib import metadata
from typing import Any

import orjson

from aiohttp import web
from pydantic import ValidationError

from infra.settings import Settings
from infra.tokens import TokenInfo, parse_duration
from services.audit import log as audit
from infra.logs import configure_logging
from services.bootstrap import PROJECTIONS, SchemaOutdated, runtime
from services.console import database, definitions, instances, schedules
from services.console.common import common_options, settings_of
from services.publishing.relay import running_relay


def _configure_logging(settings: Settings) -> None:
    configure_logging(settings.log_level)


def _settings(args: argparse.Namespace) -> Settings:
    return settings_of(args)


def serve(args: argparse.Namespace) -> int:
    """Run the HTTP service (and its workers) until interrupted."""
    from services.app import create_app
    from services.operations.lifecycle import stop_once_on_signals

    settings = _settings(args)
    _configure_logging(settings)
    if args.workers < 1:
        print("--workers must be at least 1", file=sys.stderr)
        return 2
    if args.workers > 1:
        from services.serve_workers import supervise

        return asyncio.run(supervise(settings, args.workers))
    # access_log=None: the request-log middleware already logs each request (as JSON, when enabled).
    # shutdown_timeout: in-flight requests get the grace, the scripts' stop grace and a second
    # (a request waiting on a run stopped at the grace answers how it ended); the scripts drain
    # meanwhile, so the stop still fits its budget. aiohttp's 60 s default outlasts Kubernetes' 30.
    loop = asyncio.new_event_loop()
    app = create_app(settings)
    stop_once_on_signals(loop, settings, app)
    web.run_app(app, host=settings.host, port=settings.port, access_log=None,
                shutdown_timeout=settings.shutdown_grace + settings.script_stop_grace_seconds + 1,
                reuse_port=args.reuse_port or None,
                print=lambda m: print(m, flush=True), handle_signals=False, loop=loop)
    # What is left (the embedded PostgreSQL stopping at exit) must not be cut short either.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    return 0


async def _create_token(settings: Settings, args: argparse.Namespace) -> tuple[Any, str]:
    async with runtime(settings, follow=False) as rt:
        return await rt.tokens.issue(args.user, args.role, expires_in=args.expires_in, teams=args.team)


def token_create(args: argparse.Namespace) -> int:
    """Print a new API token for a user (its id goes to stderr); optionally expiring, with teams."""
    ident, token = asyncio.run(_create_token(_settings(args), args))
    print(f"token id {ident} (for `procession token revoke`)", file=sys.stderr)
    print(token)
    return 0


def _when(moment: Any) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z") if moment else "-"


async def _list_tokens(settings: Settings) -> list[TokenInfo]:
    async with runtime(settings, follow=False) as rt:
        return await rt.tokens.list_all()


def token_list(args: argparse.Namespace) -> int:
    """Print every token (id, user, role, teams, created, last used, expiry, state); never a secret."""
    rows = [("ID", "USER", "ROLE", "TEAMS", "CREATED", "LAST USED", "EXPIRES", "STATE")]
    for t in asyncio.run(_list_tokens(_settings(args))):
        rows.append((str(t.id), t.user, t.role, ",".join(t.teams) or "-", _when(t.created), _when(t.last_used),
                     _when(t.expires), t.state))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


async def _revoke_token(settings: Settings, token_id: str) -> bool:
    async with runtime(settings, follow=False) as rt:
        return await rt.tokens.revoke(token_id)


def token_revoke(args: argparse.Namespace) -> int:
    """Revoke a token by its id: every service process refuses it from then on."""
    if not asyncio.run(_revoke_token(_settings(args), args.id)):
        print(f"no token {args.id}", file=sys.stderr)
        return 1
    print(f"revoked {args.id}")
    return 0


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


async def _rebuild(settings: Settings, names: list[str]) -> None:
    from tqdm import tqdm

    async with runtime(settings, follow=False) as rt:
        total = await rt.store.max_position()
        if not names:  # every read model: one pass over the log for all of them
            with tqdm(total=total, desc="every read model", unit="event") as bar:
                await rt.projections.rebuild_all(bar.update)
            return
        for projection in PROJECTIONS:
            if names and projection.name not in names:
                continue
            with tqdm(total=total, desc=projection.name, unit="event") as bar:
                await rt.projections.rebuild(projection, bar.update)


def projections_rebuild(args: argparse.Namespace) -> int:
    """Rebuild one or every projection from the first event."""
    known = {p.name for p in PROJECTIONS}
    unknown = [n for n in args.names if n not in known]
    if unknown:
        print(f"unknown projection(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}", file=sys.stderr)
        return 2
    asyncio.run(_rebuild(_settings(args), args.names))
    return 0


async def _relay(settings: Settings) -> None:
    async with runtime(settings, follow=False) as rt, running_relay(rt.store, settings) as relay:
        if relay is None:
            raise SystemExit("set KAFKA_BOOTSTRAP_SERVERS (or --kafka) to run the relay")
        await asyncio.Event().wait()  # until interrupted


def relay(args: argparse.Namespace) -> int:
    """Run only the Kafka relay (one publishes at a time across processes)."""
    settings = _settings(args)
    _configure_logging(settings)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_relay(settings))
    return 0


async def _export(settings: Settings, after: int, path: str) -> int:
    from tqdm import tqdm

    loop, count = asyncio.get_running_loop(), 0
    out = sys.stdout.buffer if path == "-" else open(path, "wb")  # noqa: SIM115 - closed below
    try:
        async with runtime(settings, follow=False, migrate=False) as rt:
            # A bar only when writing to a file: on stdout it would mix with the data's consumer's view.
            with tqdm(total=max(0, await rt.store.max_position() - after), desc="export", unit="event",
                      file=sys.stderr, disable=path == "-") as bar:
                async for batch in audit.walk(rt.store, after):
                    chunk = b"".join(orjson.dumps(audit.to_line(e)) + b"\n" for e in batch)
                    await loop.run_in_executor(None, out.write, chunk)
                    count += len(batch)
                    bar.update(len(batch))
    finally:
        await loop.run_in_executor(None, out.flush)
        if out is not sys.stdout.buffer:
            out.close()
    return count


def events_export(args: argparse.Namespace) -> int:
    """Write the event log as NDJSON (to a file or stdout)."""
    count = asyncio.run(_export(_settings(args), args.after, args.output))
    print(f"exported {count} events", file=sys.stderr)
    return 0


async def _lines(path: str, progress: Callable[[int], object]) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    source = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115 - closed below
    try:
        while line := await loop.run_in_executor(None, source.readline):
            progress(len(line))
            yield line
    finally:
        if source is not sys.stdin.buffer:
            source.close()


async def _import(settings: Settings, path: str) -> int:
    from tqdm import tqdm

    size = None if path == "-" else (await asyncio.get_running_loop().run_in_executor(None, os.path.getsize, path))
    async with runtime(settings, follow=False, migrate=False) as rt:
        with tqdm(total=size, desc="import", unit="B", unit_scale=True, file=sys.stderr) as bar:
            count = await audit.import_lines(rt.store, _lines(path, bar.update))
        total = await rt.store.max_position()
        with tqdm(total=total, desc="rebuild every read model", unit="event", file=sys.stderr) as bar:
            await rt.projections.rebuild_all(bar.update)
        return count


def events_import(args: argparse.Namespace) -> int:
    """Load an NDJSON export into an empty store and rebuild the read models."""
    try:
        count = asyncio.run(_import(_settings(args), args.input))
    except audit.ImportRefused as refused:
        print(f"import refused: {refused}", file=sys.stderr)
        return 1
    print(f"imported {count} events; read models rebuilt", file=sys.stderr)
    return 0


async def _verify(settings: Settings) -> audit.Verdict:
    from tqdm import tqdm

    async with runtime(settings, follow=False) as rt:
        with tqdm(total=await rt.store.max_position(), desc="verify", unit="event", file=sys.stderr) as bar:
            return await audit.verify(rt.store, bar.update)


def verify(args: argparse.Namespace) -> int:
    """Walk the hash chain; exit 1 at the first event that does not match."""
    verdict = asyncio.run(_verify(_settings(args)))
    if verdict.intact:
        print(f"intact: {verdict.checked} events, every hash matches")
        return 0
    broken = verdict.broken_at
    print(f"BROKEN at position {broken.position} (aggregate {broken.originator_id}, version "
          f"{broken.originator_version}, {broken.topic}); {verdict.checked} events before it are intact")
    return 1


def parser() -> argparse.ArgumentParser:
    """The command-line grammar."""
    common, connection = common_options(), common_options(output=False)
    root = argparse.ArgumentParser(prog="procession", description="An event-sourced process service.",
                                   parents=[common])
    root.add_argument("--version", action="version", version=f"procession {metadata.version('procession')}")
    root.set_defaults(database_url=None, data_dir=None, format="table")
    commands = root.add_subparsers(dest="command", required=True)

    run = commands.add_parser("serve", help="run the HTTP service", parents=[connection])
    run.add_argument("--host", help="address to bind (env PROCESSION_HOST)")
    run.add_argument("--port", type=int, help="port to bind (env PROCESSION_PORT)")
    run.add_argument("--kafka", help="Kafka bootstrap servers, or 'embedded' (env KAFKA_BOOTSTRAP_SERVERS)")
    run.add_argument("--workers", type=int, default=1,
                     help="service processes sharing the port and the database (default 1)")
    run.add_argument("--reuse-port", action="store_true",
                     help="bind with SO_REUSEPORT, so that several servers share the port")
    run.set_defaults(func=serve)

    token = commands.add_parser("token", help="manage API tokens").add_subparsers(dest="action", required=True)
    create = token.add_parser("create", help="create a token and print it", parents=[connection])
    create.add_argument("--user", required=True, help="the user the token acts as")
    create.add_argument("--role", choices=("admin", "user"), default="user", help="admin may change configurations (default user)")
    create.add_argument("--expires-in", type=_duration, help="lifetime, e.g. 30d, 12h, 90m (default: never expires)")
    create.add_argument("--team", action="append", help="a team of the user (repeat; replaces the user's teams)")
    create.set_defaults(func=token_create)
    listing = token.add_parser("list", help="list tokens (never their secrets)", parents=[connection])
    listing.set_defaults(func=token_list)
    revoke = token.add_parser("revoke", help="revoke a token by its id (its portal sessions end too)", parents=[connection])
    revoke.add_argument("id", help="the token's id, as `token list` shows it")
    revoke.set_defaults(func=token_revoke)

    projections = commands.add_parser("projections", help="read models").add_subparsers(dest="action", required=True)
    rebuild = projections.add_parser("rebuild", help="rebuild read models from the event log", parents=[connection])
    rebuild.add_argument("names", nargs="*", help="projections to rebuild (default: all)")
    rebuild.set_defaults(func=projections_rebuild)

    run_relay = commands.add_parser("relay", help="run only the Kafka relay", parents=[connection])
    run_relay.add_argument("--kafka", help="Kafka bootstrap servers, or 'embedded' (env KAFKA_BOOTSTRAP_SERVERS)")
    run_relay.set_defaults(func=relay)

    events = commands.add_parser("events", help="the event log").add_subparsers(dest="action", required=True)
    export = events.add_parser("export", help="write the log as NDJSON", parents=[connection])
    export.add_argument("--after", type=int, default=0, help="start after this position")
    export.add_argument("--output", "-o", default="-", help="file to write (default stdout)")
    export.set_defaults(func=events_export)
    load = events.add_parser("import", help="load an NDJSON export into an empty store", parents=[connection])
    load.add_argument("input", nargs="?", default="-", help="file to read (default stdin)")
    load.set_defaults(func=events_import)

    check = commands.add_parser("verify", help="check the hash chain of the whole log", parents=[connection])
    check.set_defaults(func=verify)

    for group in (definitions, instances, schedules, database):
        group.register(commands, common)
    return root


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `procession` console script."""
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except SchemaOutdated as e:
        print(f"procession: {e}", file=sys.stderr)
        return 2
    except ValidationError as e:
        if e.title != Settings.__name__:
            raise
        # A setting refused at start (a shutdown budget its parts overrun, say): say which, no
        # traceback, and never the input (it holds DATABASE_URL, password included).
        for error in e.errors(include_input=False):
            where = ".".join(str(part) for part in error["loc"])
            print(f"procession: invalid settings: {where + ': ' if where else ''}{error['msg']}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
