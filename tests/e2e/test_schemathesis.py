"""schemathesis against a running `procession serve` with an admin token: every check on every
operation, positive and negative data, a fixed generation (deterministic mode), a bounded number
of examples per operation; zero failures, and so no 5xx.

The checks' settings are in `tests/e2e/schemathesis.toml`: all of them, except one check on each
of the few operations where a rule of the service cannot be said in OpenAPI (each with its reason
there, and the rule in the operation's description in the document).

`SCHEMATHESIS_SEED=<n>` runs the same test with random generation from that seed instead, to look
for failures the fixed generation does not reach.
"""

from __future__ import annotations

import asyncio
import collections
import os
import re
import sys
from pathlib import Path

import orjson

from infra.kafka_broker import free_port
from tests.e2e.test_serve_cli import healthy, run

BIN = Path(sys.executable).parent
CONFIG = Path(__file__).with_name("schemathesis.toml")


async def test_schemathesis_finds_nothing(database_url, tmp_path):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "PROCESSION_DATA_DIR": str(tmp_path),
           "PROCESSION_LOG_REQUESTS": "false", "PROCESSION_MAX_WAIT_SECONDS": "2"}
    token = await run("token", "create", "--user", "alice", "--role", "admin", env=env)
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        server = await asyncio.create_subprocess_exec(
            str(BIN / "procession"), "serve", "--port", str(port), env=env, stdout=sink, stderr=sink,
        )
    url = f"http://127.0.0.1:{port}"
    seed = os.environ.get("SCHEMATHESIS_SEED")
    events = tmp_path / "events.ndjson"
    try:
        assert await healthy(url)
        report = await _schemathesis(
            tmp_path, env, "--config-file", str(CONFIG), "run", f"{url}/api/openapi.json",
            "-H", f"Authorization: Bearer {token}", "--mode", "all", "--max-examples", "10",
            *(["--seed", seed] if seed else ["--generation-deterministic"]),
            "--workers", "1", "--no-color", "--request-timeout", "30", "--max-failures", "50",
            "--report", "ndjson", "--report-ndjson-path", str(events),
        )
    finally:
        server.terminate()
        await server.wait()
    # Every case generated passed (the summary says so; warnings such as "no links" are not failures).
    counts = re.search(r"(\d+) generated, (\d+) passed", report)
    assert counts is not None and counts[1] == counts[2], report[-4000:]
    modes = _generation_modes(events)
    assert modes["positive"] > 500 and modes["negative"] > 500, modes
    # Nothing went wrong out of sight either (a 500 is a failure above; a read model that cannot
    # take an event is not): no error in the service's log.
    assert _errors(log) == [], _errors(log)[:3]


async def _schemathesis(cwd: Path, env: dict[str, str], *args: str) -> str:
    st = await asyncio.create_subprocess_exec(
        str(BIN / "st"), *args, env={**env, "SCHEMATHESIS_HOOKS": ""}, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await st.communicate()
    report = out.decode(errors="replace")
    assert st.returncode == 0, report[-20000:]
    return report


def _generation_modes(events: Path) -> collections.Counter[str]:
    """How many of the cases the run sent were generated in each mode (from its ndjson report)."""
    modes: collections.Counter[str] = collections.Counter()
    for line in events.read_bytes().splitlines():
        finished = orjson.loads(line).get("ScenarioFinished") or {}
        for case in finished.get("recorder", {}).get("cases", {}).values():
            if meta := case["value"].get("meta"):
                modes[meta["generation"]["mode"]] += 1
    return modes


def _errors(log: Path) -> list[str]:
    """The service's error lines, but aiohttp's refusals of headers it cannot parse (400s it answers
    itself, such as schemathesis's probe for a NUL in a header)."""
    lines = []
    for line in log.read_bytes().splitlines():
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # not one of ours (a library's warning on stderr)
        unparsable = entry.get("logger") == "aiohttp.server" and "BadHttpMessage" in entry.get("exc", "")
        if entry.get("level") == "error" and not unparsable:
            lines.append(f"{entry.get('logger')}: {entry.get('msg')}: {entry.get('exc', '')[-800:]}")
    return lines
