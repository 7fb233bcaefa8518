"""Every page in a real browser: axe-core finds no serious or critical violation; a screenshot of each;
everything a page loads exists, and nothing goes wrong on its console.

The screenshots go to the test's output folder; with PROCESSION_SCREENSHOTS=1 they replace the
ones under docs/screenshots/ that the README shows.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, Response, WebError, expect

from tests.browser.conftest import VIEWPORT, Server, api, define, sign_in
from tests.browser.test_tasks import HOUSING, concord_upload

AXE = Path(__file__).with_name("vendor") / "axe-core-4.14.1.min.js"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# What a page names to load: its icon, stylesheet, scripts and images.
NAMED = "[...document.querySelectorAll('link[href], script[src], img[src]')].map(e => e.href || e.src)"


class Troubles:
    """What goes wrong in the pages of one browser context: a sub-resource answering 400 or more,
    an error on the console, an uncaught script error.

    A page's own status is not one of them: the test asserts it (a refused form answers 422 on
    purpose), and the console's "Failed to load resource" echo of it is left out too.
    """

    def __init__(self, context: BrowserContext) -> None:
        self._documents: set[str] = set()
        self._failed: list[str] = []
        self._console: list[ConsoleMessage] = []
        context.on("response", self._response)
        context.on("console", lambda message: self._console.append(message) if message.type == "error" else None)
        context.on("weberror", self._uncaught)

    def _response(self, response: Response) -> None:
        if response.request.resource_type == "document":
            self._documents.add(response.url)
        elif response.status >= 400:
            self._failed.append(f"{response.status} for {response.request.resource_type} {response.url}")

    def _uncaught(self, error: WebError) -> None:
        self._failed.append(f"uncaught script error: {error.error}")

    def take(self) -> list[str]:
        """What went wrong since the last call (read at the end: the console may speak before the response)."""
        found = self._failed + [
            f"console error: {m.text} (at {m.location.get('url')})" for m in self._console
            if not (m.text.startswith("Failed to load resource") and m.location.get("url") in self._documents)
        ]
        self._failed, self._console = [], []
        return found


async def unloadable(page: Page) -> list[str]:
    """The resources the page names that do not answer 200 (fetched again: Chromium does not report
    its own icon fetches as the page's responses)."""
    bad = []
    for url in sorted(set(await page.evaluate(NAMED))):
        response = await page.request.get(url)
        if response.status != 200:
            bad.append(f"{response.status} for {url}")
    return bad


async def visit(page: Page, url: str) -> None:
    response = await page.goto(url)
    assert response is not None and response.status == 200, (url, response and response.status)


async def test_every_page_is_accessible_and_pictured(browser: Browser, server: Server, tmp_path: Path):
    await define(server, "pictured", {"name": "Housing application", "description": "Apply, attach documents, submit.",
                                      "workflow": HOUSING})
    await define(server, "echo-demo", {"name": "Echo", "description": "Prints a message.", "script": "echo-params",
                                       "cron": "30 6 * * 1-5", "input": {"message": "good morning"}})
    waiting = await api(server, "alice", "POST", "/api/v1/process", data=concord_upload("form"))
    # bypass_csp lets the test inject axe-core; the pages themselves are the same.
    context = await browser.new_context(viewport=VIEWPORT, bypass_csp=True)
    troubles = Troubles(context)
    try:
        page = await context.new_page()
        await visit(page, server.url + "/ui/sign-in")
        pages = {"sign-in": None}
        await sign_in(page, server, "alice", path="/ui/definitions/echo-demo")
        await page.get_by_label("--message").fill("hello from the portal")
        await page.get_by_label("--count").fill("3")
        await page.get_by_role("button", name="Start", exact=True).click()
        await expect(page.locator("#status")).to_have_text("completed", timeout=20_000)
        script_page = page.url
        await visit(page, server.url + "/ui/definitions/pictured")
        await page.get_by_role("button", name="Start", exact=True).click()
        await expect(page).to_have_url(re.compile(r"/ui/processes/[0-9a-f-]{36}$"))
        assert not troubles.take()
        pages.update({
            "overview": "/ui/", "processes": "/ui/processes", "process": script_page, "task": page.url,
            "tasks": "/ui/tasks", "definitions": "/ui/definitions", "definition": "/ui/definitions/echo-demo",
            "audit": "/ui/audit", "concord-form": f"/ui/processes/{waiting['instanceId']}",
        })
        target = DOCS if os.environ.get("PROCESSION_SCREENSHOTS") == "1" else tmp_path
        target.mkdir(parents=True, exist_ok=True)
        for name, path in pages.items():
            if path is None:  # the sign-in page, seen by someone signed out
                anonymous = await browser.new_context(viewport=VIEWPORT, bypass_csp=True)
                seen_by = Troubles(anonymous)
                shown = await anonymous.new_page()
                await visit(shown, server.url + "/ui/sign-in")
            else:
                shown, seen_by = page, troubles
                await visit(page, path if path.startswith("http") else server.url + path)
            if name == "concord-form":  # shown as a person sees it after a wrong value
                await page.get_by_label("Age").fill("12")
                await page.get_by_role("button", name="Submit myForm").click()
                await expect(page.locator("#error-age")).to_be_visible()
            title = await shown.title()
            assert title.endswith("procession") and "<" not in title, (name, title)  # a block left open leaks markup
            assert not await unloadable(shown), name
            await shown.add_script_tag(path=str(AXE))
            result = await shown.evaluate("axe.run(document, {resultTypes: ['violations']})")
            bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]
                   if v["impact"] in ("serious", "critical")]
            assert not bad, (name, bad)
            if name == "audit":  # verify with its progress bar (the script path)
                await page.get_by_role("button", name="Verify every event").click()
                await expect(page.locator("#verify-verdict")).to_contain_text("Intact:", timeout=20_000)
            await shown.screenshot(path=str(target / f"{name}.png"))
            assert not seen_by.take(), name
            if path is None:
                await anonymous.close()
        await strictly_seen(browser, server, [p for p in pages.values() if p is not None])
    finally:
        await context.close()


async def strictly_seen(browser: Browser, server: Server, paths: list[str]) -> None:
    """Each page again as a person's browser gets it, its Content-Security-Policy enforced: a resource
    the policy blocks is a console error too."""
    context = await browser.new_context(viewport=VIEWPORT)
    troubles = Troubles(context)
    try:
        page = await context.new_page()
        await sign_in(page, server, "alice")
        for path in paths:
            await visit(page, path if path.startswith("http") else server.url + path)
            assert not troubles.take(), path
    finally:
        await context.close()

