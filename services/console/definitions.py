"""`procession definitions`: list, show, deploy, tag, rollback (the same services as the HTTP faces)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

import orjson

from contracts.definitions import ProcessConfigurationIn
from events.concord.compiler import CONCORD
from events.concord.project import EXTRA_SUFFIXES, ROOT_FILES
from events.definition import LATEST
from events.errors import InvalidInput
from services.bootstrap import Runtime
from services.console.common import operator, run
from services.definitions.commands import RemoveVersion, SaveDefinition, TagVersion
from services.definitions.models import DefinitionQuery


async def _list(rt: Runtime, args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = await rt.definition_views.list(DefinitionQuery(sort=(("_id", False),), limit=None))
    return [{"key": r.key, "version": r.version, "script": r.configuration.get("script"),
             "workflow": "yes" if r.configuration.get("workflow") else None, "cron": r.configuration.get("cron"),
             "enabled": r.configuration.get("enabled", True), "updated": r.timestamp, "by": r.user} for r in rows]


async def _show(rt: Runtime, args: argparse.Namespace) -> dict[str, Any]:
    shown, _ = await rt.definition_views.version(args.key, args.version or LATEST)
    versions = await rt.definition_views.versions(args.key)
    head = {"key": shown.key, "version": shown.version, "created": shown.timestamp, "by": shown.user}
    if args.format == "json":
        return {**head, "configuration": shown.configuration,
                "versions": [{"version": v.version, "tags": v.tags, "created": v.timestamp, "by": v.user}
                             for v in versions]}
    listed = ", ".join(f"{v.version}{'(' + ','.join(v.tags) + ')' if v.tags else ''}" for v in versions)
    return {**head, **shown.configuration, "versions": listed}


def _read(path: Path) -> tuple[str, dict[str, Any]]:
    """A file's key and configuration: a JSON configuration or state machine, a BPMN model, or a concord.yml."""
    text = path.read_bytes()
    if path.name in ROOT_FILES:
        # A Concord project: its root file and the `concord/*.concord.yml` beside it; named for its directory.
        files = {path.name: text.decode("utf-8")}
        for extra in sorted((path.parent / "concord").glob("*")):
            if extra.is_file() and extra.name.endswith(EXTRA_SUFFIXES):
                files[f"concord/{extra.name}"] = extra.read_text("utf-8")
        return path.parent.resolve().name, {"workflow": {CONCORD: files}}
    if path.suffix in (".yml", ".yaml"):
        raise InvalidInput(f"{path.name}: not a Concord project file",
                           [f"{path.name}: a Concord project's root file is one of {', '.join(ROOT_FILES)}"])
    if path.suffix == ".bpmn":
        return path.stem, {"workflow": text.decode("utf-8")}
    try:
        model = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise InvalidInput(f"{path.name} is neither BPMN nor JSON", [f"{path.name}: {e}"]) from None
    if isinstance(model, dict) and "states" in model and not model.keys() & {"script", "workflow"}:
        return path.stem, {"workflow": model}  # a state machine
    body = ProcessConfigurationIn.model_validate(model)
    return body.key() or path.stem, body.configuration()


async def _deploy(rt: Runtime, args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.key and len(args.files) > 1:
        raise InvalidInput("--key names one definition", ["--key: give one file with it"])
    loop, deployed = asyncio.get_running_loop(), []
    for path in args.files:
        try:
            key, configuration = await loop.run_in_executor(None, _read, path)
        except OSError as e:
            raise InvalidInput(f"cannot read {path}", [f"{path}: {e.strerror}"]) from None
        result = await rt.definitions.save(operator(), SaveDefinition(args.key or key, configuration))
        deployed.append({"file": str(path), "key": result.key,
                         "version": result.current.version if result.current else None, "changed": result.changed})
    return deployed


async def _tag(rt: Runtime, args: argparse.Namespace) -> dict[str, Any]:
    await rt.definitions.tag(operator(), TagVersion(args.key, args.version, args.tag))
    tagged, _ = await rt.definition_views.version(args.key, args.tag)
    return {"key": args.key, "tag": args.tag, "version": tagged.version}


async def _rollback(rt: Runtime, args: argparse.Namespace) -> dict[str, Any]:
    versions = await rt.definition_views.versions(args.key)
    if len(versions) < 2:
        raise InvalidInput(f"{args.key} has one version: nothing to roll back to",
                           ["rollback: removing the only version would delete the definition"])
    await rt.definitions.remove_version(operator(), RemoveVersion(args.key, LATEST))
    current, _ = await rt.definition_views.current(args.key)
    return {"key": args.key, "removed": versions[0].version, "current": current.version}


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `definitions ...` to the command line."""
    group = commands.add_parser("definitions", help="process definitions (configurations)")
    actions = group.add_subparsers(dest="action", required=True)

    listing = actions.add_parser("list", parents=[common], help="every definition's current version")
    listing.set_defaults(func=lambda a: run(a, _list, columns=("key", "version", "script", "workflow", "cron",
                                                                  "enabled", "updated", "by")))

    show = actions.add_parser("show", parents=[common], help="one definition: a version's configuration and the versions")
    show.add_argument("key", help="the definition's key")
    show.add_argument("--version", help="a version number or tag (default: the current one)")
    show.set_defaults(func=lambda a: run(a, _show))

    deploy = actions.add_parser("deploy", parents=[common],
                                help="save files as definitions (a new version when the configuration changed)")
    deploy.add_argument("files", nargs="+", type=Path,
                        help="JSON configurations or state machines, BPMN models (*.bpmn), or Concord projects (concord.yml)")
    deploy.add_argument("--key", help="the key (default: the JSON's _id or name, a concord.yml's directory, else the file name)")
    deploy.set_defaults(func=lambda a: run(a, _deploy, columns=("file", "key", "version", "changed")))

    tag = actions.add_parser("tag", parents=[common], help="put a tag on a version (moving it from another)")
    tag.add_argument("key", help="the definition's key")
    tag.add_argument("version", help="a version number, or a tag already set")
    tag.add_argument("tag", help="the tag to set")
    tag.set_defaults(func=lambda a: run(a, _tag))

    rollback = actions.add_parser("rollback", parents=[common],
                                  help="remove the current version, so the one before is current again")
    rollback.add_argument("key", help="the definition's key")
    rollback.set_defaults(func=lambda a: run(a, _rollback))
