"""schemathesis against a running `procession serve` with an admin token: every check, a fixed
generation (deterministic mode), a bounded number of examples per operation; zero failures.

Every operation is tested. Left out, each for a reason the OpenAPI document cannot express:
- `allow_header_conformance`: Concord and Hackney share `/api/v1/process/{x}` (one URL, two path
  templates), so aiohttp's `Allow` for one template names the other's methods too.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from infra.kafka_broker import free_port
from tests.e2e.test_serve_cli import healthy, run

BIN = Path(sys.executable).parent
EXCLUDED_CHECKS = "allow_header_conformance"
# Operations whose valid requests are more than JSON Schema can say: they run with every check but
# `positive_data_acceptance` (a request the document calls valid may still be refused, with a 4xx):
# - opendatadsl_save_process: the key is `_id`, `_key` or `name` (one of three), a configuration
#   runs exactly one of script and workflow, and a workflow or cron must parse (BPMN, state machine);
# - hackney_start_from_body: the same URL is Concord's upload, whose ZIP must be a readable archive
#   with a flow model (or name an entry point), and whose `startAt` must not be in the past;
# - dspace_search_by_property: needs one of userId, scriptName, processStatus (OpenAPI cannot
#   require one of several query parameters);
# - dspace_start_process: which parameters and files are valid is each script's own declaration,
#   and a part name must be one aiohttp can read (schemathesis sends any Unicode name).
PARTIAL_OPERATIONS = (
    "opendatadsl_save_process", "hackney_start_from_body", "dspace_search_by_property", "dspace_start_process",
)


async def test_schemathesis_finds_nothing(database_url, tmp_path):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "PROCESSION_DATA_DIR": str(tmp_path),
           "PROCESSION_LOG_REQUESTS": "false", "PROCESSION_MAX_WAIT_SECONDS": "2"}
    token = await run("token", "create", "--user", "alice", "--role", "admin", env=env)
    server = await asyncio.create_subprocess_exec(
        str(BIN / "procession"), "serve", "--port", str(port), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        assert await healthy(url)
        common = [
            "run", f"{url}/api/openapi.json", "-H", f"Authorization: Bearer {token}", "--checks", "all",
            "--max-examples", "10", "--generation-deterministic",
            "--workers", "1", "--no-color", "--request-timeout", "30", "--max-failures", "50",
        ]
        partial = f"^({'|'.join(PARTIAL_OPERATIONS)})$"
        await _schemathesis(tmp_path, env, *common, "--exclude-checks", EXCLUDED_CHECKS,
                            "--exclude-operation-id-regex", partial)
        await _schemathesis(tmp_path, env, *common, "--exclude-checks", f"{EXCLUDED_CHECKS},positive_data_acceptance",
                            "--include-operation-id-regex", partial)
    finally:
        server.terminate()
        await server.wait()


async def _schemathesis(cwd: Path, env: dict[str, str], *args: str) -> None:
    st = await asyncio.create_subprocess_exec(
        str(BIN / "st"), *args, env={**env, "SCHEMATHESIS_HOOKS": ""}, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await st.communicate()
    report = out.decode(errors="replace")
    assert st.returncode == 0, report[-20000:]
    assert "No issues found" in report or " passed" in report, report[-4000:]
