"""Every page in a real browser: axe-core finds no serious or critical violation; a screenshot of each.

The screenshots go to the test's output folder; with PROCESSION_SCREENSHOTS=1 they replace the
ones under docs/screenshots/ that the README shows.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from playwright.async_api import Browser, expect

from tests.browser.conftest import VIEWPORT, Server, api, define, sign_in
from tests.browser.test_tasks import HOUSING, concord_upload

AXE = Path(__file__).with_name("vendor") / "axe-core-4.14.1.min.js"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


async def test_every_page_is_accessible_and_pictured(browser: Browser, server: Server, tmp_path: Path):
    await define(server, "pictured", {"name": "Housing application", "description": "Apply, attach documents, submit.",
                                      "workflow": HOUSING})
    await define(server, "echo-demo", {"name": "Echo", "description": "Prints a message.", "script": "echo-params",
                                       "cron": "30 6 * * 1-5", "input": {"message": "good morning"}})
    waiting = await api(server, "alice", "POST", "/api/v1/process", data=concord_upload("form"))
    # bypass_csp lets the test inject axe-core; the pages themselves are the same.
    context = await browser.new_context(viewport=VIEWPORT, bypass_csp=True)
    try:
        page = await context.new_page()
        await page.goto(server.url + "/ui/sign-in")
        pages = {"sign-in": None}
        await sign_in(page, server, "alice", path="/ui/definitions/echo-demo")
        await page.get_by_label("--message").fill("hello from the portal")
        await page.get_by_label("--count").fill("3")
        await page.get_by_role("button", name="Start", exact=True).click()
        await expect(page.locator("#status")).to_have_text("completed", timeout=20_000)
        script_page = page.url
        await page.goto(server.url + "/ui/definitions/pictured")
        await page.get_by_role("button", name="Start", exact=True).click()
        await expect(page).to_have_url(re.compile(r"/ui/processes/[0-9a-f-]{36}$"))
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
                shown = await anonymous.new_page()
                await shown.goto(server.url + "/ui/sign-in")
            else:
                shown = page
                await page.goto(path if path.startswith("http") else server.url + path)
            if name == "concord-form":  # shown as a person sees it after a wrong value
                await page.get_by_label("Age").fill("12")
                await page.get_by_role("button", name="Submit myForm").click()
                await expect(page.locator("#error-age")).to_be_visible()
            title = await shown.title()
            assert title.endswith("procession") and "<" not in title, (name, title)  # a block left open leaks markup
            await shown.add_script_tag(path=str(AXE))
            result = await shown.evaluate("axe.run(document, {resultTypes: ['violations']})")
            bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]
                   if v["impact"] in ("serious", "critical")]
            assert not bad, (name, bad)
            if name == "audit":  # verify with its progress bar (the script path)
                await page.get_by_role("button", name="Verify every event").click()
                await expect(page.locator("#verify-verdict")).to_contain_text("Intact:", timeout=20_000)
            await shown.screenshot(path=str(target / f"{name}.png"))
            if path is None:
                await anonymous.close()
    finally:
        await context.close()
