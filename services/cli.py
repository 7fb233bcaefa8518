"""The `procession` command: serve, tokens, projections."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from aiohttp import web

from infra.settings import Settings
from services.bootstrap import PROJECTIONS, runtime
from services.http.request_log import JsonFormatter


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {k: v for k, v in (("host", getattr(args, "host", None)), ("port", getattr(args, "port", None))) if v is not None}
    return Settings(**overrides)


def serve(args: argparse.Namespace) -> int:
    """Run the HTTP service (and its workers) until interrupted."""
    from services.app import create_app

    settings = _settings(args)
    _configure_logging()
    web.run_app(create_app(settings), host=settings.host, port=settings.port, print=lambda m: print(m, flush=True))
    return 0


async def _create_token(settings: Settings, user: str, role: str) -> str:
    async with runtime(settings, follow=False) as rt:
        return await rt.tokens.create(user, role)


def token_create(args: argparse.Namespace) -> int:
    """Print a new API token for a user."""
    print(asyncio.run(_create_token(_settings(args), args.user, args.role)))
    return 0


async def _rebuild(settings: Settings, names: list[str]) -> None:
    from tqdm import tqdm

    async with runtime(settings, follow=False) as rt:
        total = await rt.store.max_position()
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


def parser() -> argparse.ArgumentParser:
    """The command-line grammar."""
    root = argparse.ArgumentParser(prog="procession", description="An event-sourced process service.")
    commands = root.add_subparsers(dest="command", required=True)

    run = commands.add_parser("serve", help="run the HTTP service")
    run.add_argument("--host", help="address to bind (env PROCESSION_HOST)")
    run.add_argument("--port", type=int, help="port to bind (env PROCESSION_PORT)")
    run.set_defaults(func=serve)

    token = commands.add_parser("token", help="manage API tokens").add_subparsers(dest="action", required=True)
    create = token.add_parser("create", help="create a token and print it")
    create.add_argument("--user", required=True)
    create.add_argument("--role", choices=("admin", "user"), default="user")
    create.set_defaults(func=token_create)

    projections = commands.add_parser("projections", help="read models").add_subparsers(dest="action", required=True)
    rebuild = projections.add_parser("rebuild", help="rebuild read models from the event log")
    rebuild.add_argument("names", nargs="*", help="projections to rebuild (default: all)")
    rebuild.set_defaults(func=projections_rebuild)
    return root


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `procession` console script."""
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
