"""Browser tests: real Chromium (the system's, driven by Playwright) against a real `procession serve`.

One server and one browser for the whole session (each test uses its own users' data); each
test gets a fresh browser context at 1280x800, and a failing test leaves a screenshot of
its page in its output folder (`tmp_path`).
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.conftest import TEMPLATE, with_database
from tests.e2e.test_serve_cli import healthy

CHROMIUM = os.environ.get("PROCESSION_TEST_CHROMIUM", "/usr/bin/chromium")
CLI = str(Path(sys.executable).with_name("procession"))
VIEWPORT = {"width": 1280, "height": 800}
# Quiet, sandbox-free (containers run as root), no first-run or background traffic.
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-default-apps",
    "--disable-extensions", "--disable-sync", "--no-first-run", "--mute-audio", "--metrics-recording-only",
]


@dataclass
class Server:
    """The running service: its URL, its database and one token per person."""

    url: str
    database_url: str
    env: dict[str, str]
    tokens: dict[str, str]
    log_path: Path | None = None

    async def cli(self, *args: str) -> str:
        """Run a `procession` command against this server's database; its last line."""
        process = await asyncio.create_subprocess_exec(CLI, *args, env=self.env, stdout=asyncio.subprocess.PIPE)
        out, _ = await process.communicate()
        assert process.returncode == 0, args
        return out.decode().strip().splitlines()[-1]


@pytest.fixture(scope="session")
async def server(admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    """`procession serve` on a free port, over a database of its own; tokens for alice (admin), bob, carol."""
    from infra.kafka_broker import free_port

    name = f"b_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    finally:
        await conn.close()
    database_url = with_database(admin_url, name)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "PROCESSION_DATA_DIR": str(tmp_path_factory.mktemp("serve")),
           "PROCESSION_LOG_REQUESTS": "false", "PROCESSION_SCHEDULER_POLL_SECONDS": "0.2"}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    srv = Server(f"http://127.0.0.1:{port}", database_url, env, {})
    for user, role in (("alice", "admin"), ("bob", "user"), ("carol", "user")):
        srv.tokens[user] = await srv.cli("token", "create", "--user", user, "--role", role)
    # The service's own log is kept beside the test output: a failing browser test is read with it.
    log_path = srv.log_path = Path(env["PROCESSION_DATA_DIR"]) / "serve.log"
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            CLI, "serve", "--port", str(port), env=env, stdout=log_file, stderr=log_file,
        )
        try:
            assert await healthy(srv.url), f"procession serve did not start; its log: {log_path}"
            yield srv
        finally:
            process.terminate()
            await process.wait()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """The system's Chromium (`apt-get install chromium`; Playwright downloads nothing here)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium` (as .ci/run does)")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Keep each phase's report on the test, so a fixture can tell that the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
async def context(browser: Browser, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BrowserContext]:
    """A fresh profile (no cookies) at 1280x800; screenshots of its pages when the test fails."""
    ctx = await browser.new_context(viewport=VIEWPORT, locale="en-GB", timezone_id="Europe/Oslo")
    ctx.set_default_timeout(15_000)
    try:
        yield ctx
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            for number, opened in enumerate(ctx.pages):
                await opened.screenshot(path=str(tmp_path / f"failure-{number}.png"), full_page=True)
            print(f"screenshots of the failing pages: {tmp_path}")
            server = request.node.funcargs.get("server")
            if isinstance(server, Server) and server.log_path is not None and server.log_path.exists():
                # CI keeps no files: the service's last words go into the test's output.
                tail = server.log_path.read_text(errors="replace").splitlines()[-60:]
                print("the service's log, last lines:\n" + "\n".join(tail))
        await ctx.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    """One tab in the fresh profile."""
    return await context.new_page()


async def sign_in(page: Page, server: Server, user: str, *, path: str = "/ui/") -> None:
    """Sign in through the form, as a person would."""
    await page.goto(server.url + path)
    await page.get_by_label("Token").fill(server.tokens[user])
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(lambda url: "/ui/sign-in" not in url)


async def api(server: Server, user: str, method: str, path: str, **kw: object) -> object:
    """Call the API as someone (to set up what a test needs); the JSON answer."""
    import aiohttp

    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {server.tokens[user]}"}) as session:
        async with session.request(method, server.url + path, **kw) as response:
            assert response.status < 300, await response.text()
            return await response.json() if response.content_type.endswith("json") else await response.text()


async def define(server: Server, key: str, configuration: dict) -> None:
    """An admin saves a definition (PUT creates or adds a version)."""
    await api(server, "alice", "POST", "/api/process/v1", json={"_id": key, **configuration})
