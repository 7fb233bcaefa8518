"""schemathesis against a running `procession serve` with an admin token: every check, a fixed
generation (deterministic mode), a bounded number of examples per operation; zero failures.

Excluded, each for a reason the OpenAPI document cannot express:
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
# Known gaps, still to close (issue 9, section 2): bodies parsed by hand that the document's model
# does not describe yet (save, rename, Hackney start and update, DSpace invocation form), a query
# rule OpenAPI cannot say (byProperty needs one of three parameters), `_distinct` values.
EXCLUDED_OPERATIONS = (
    "opendatadsl_save_process", "opendatadsl_rename_process", "opendatadsl_list_processes",
    "hackney_start_from_body", "hackney_update_process", "dspace_start_process", "dspace_search_by_property",
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
        args = [
            "run", f"{url}/api/openapi.json", "-H", f"Authorization: Bearer {token}", "--checks", "all",
            "--exclude-checks", EXCLUDED_CHECKS, "--max-examples", "10", "--generation-deterministic",
            "--workers", "1", "--no-color", "--request-timeout", "30", "--max-failures", "50",
        ]
        args += ["--exclude-operation-id-regex", f"^({'|'.join(EXCLUDED_OPERATIONS)})$"]
        st = await asyncio.create_subprocess_exec(
            str(BIN / "st"), *args, env={**env, "SCHEMATHESIS_HOOKS": ""}, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await st.communicate()
        report = out.decode(errors="replace")
        assert st.returncode == 0, report[-20000:]
        assert "No issues found" in report or " passed" in report, report[-4000:]
    finally:
        server.terminate()
        await server.wait()
