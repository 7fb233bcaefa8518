"""Processes in a real browser: start from the generated form, live log, stop; privacy; CSRF; escaping."""

from __future__ import annotations

import re

import aiohttp
from playwright.async_api import Page, expect

from tests.browser.conftest import Server, define, sign_in


async def test_start_a_script_watch_its_log_arrive_live_then_stop_it(page: Page, server: Server):
    await define(server, "slow-run", {"name": "Slow run", "script": "slow"})
    await sign_in(page, server, "bob", path="/ui/definitions/slow-run")
    await page.get_by_label("--seconds").fill("60")
    await page.get_by_role("button", name="Start", exact=True).click()
    await expect(page).to_have_url(re.compile(r"/ui/processes/[0-9a-f-]{36}$"))
    log = page.locator("#log")
    await expect(log).to_have_attribute("data-live", "on")
    # Lines arrive while the page stays open (no reload): the log grows line by line.
    await expect(log.locator(".line").nth(2)).to_be_attached(timeout=20_000)
    first = await log.locator(".line").count()
    await expect(log.locator(".line").nth(first)).to_be_attached(timeout=20_000)
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Stop").click()
    await expect(page.locator("#status")).to_have_text("stopped", timeout=20_000)
    await expect(page.locator("#timeline")).to_contain_text("Stopped")
    download = page.get_by_role("link", name="Download the log")
    assert (await download.get_attribute("href")).endswith(".txt")


async def test_another_user_cannot_see_or_act_on_a_process(page: Page, server: Server):
    await define(server, "private-run", {"name": "Private", "script": "slow"})
    await sign_in(page, server, "bob", path="/ui/definitions/private-run")
    await page.get_by_label("--seconds").fill("30")
    await page.get_by_role("button", name="Start", exact=True).click()
    await expect(page).to_have_url(re.compile(r"/ui/processes/[0-9a-f-]{36}$"))
    process_url = page.url
    carol = await page.context.browser.new_context()
    try:
        other = await carol.new_page()
        await sign_in(other, server, "carol", path="/ui/processes")
        await expect(other.locator("#process-table")).not_to_contain_text("private-run")
        for path in ("", "/summary", "/log.txt"):
            response = await other.goto(process_url + path)
            assert response.status == 404  # as if it did not exist: the one rule of every face
        stream = await other.request.get(process_url + "/live")
        assert stream.status == 404
        csrf = await other.locator("input[name=csrf]").first.get_attribute("value")
        refused = await other.request.post(process_url + "/stop", form={"csrf": csrf})
        assert refused.status == 404
    finally:
        await carol.close()
    await page.reload()
    await expect(page.locator("#status")).not_to_have_text("stopped")
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Stop").click()
    await expect(page.locator("#status")).to_have_text("stopped", timeout=20_000)


async def test_a_cross_site_post_without_the_csrf_token_is_refused(page: Page, server: Server):
    await sign_in(page, server, "bob")
    # What a form on another site would send: the session cookie rides along only on top-level
    # navigations (SameSite=Lax), and even then the missing CSRF token refuses it.
    response = await page.request.post(server.url + "/ui/sign-out", form={"x": "1"})
    assert response.status == 403
    await page.goto(server.url + "/ui/")
    await expect(page.locator("header .user")).to_have_text("bob")
    async with aiohttp.ClientSession() as session:  # no cookie at all: sent to sign in, nothing done
        async with session.post(server.url + "/ui/definitions/x/start", data={"a": "1"}, allow_redirects=False) as r:
            assert r.status == 401


async def test_markup_in_user_data_is_shown_not_run(page: Page, server: Server):
    markup = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
    await define(server, "markup-run", {"name": markup, "script": "echo-params"})
    await sign_in(page, server, "bob", path="/ui/definitions/markup-run")
    await expect(page.get_by_role("heading", level=1)).to_have_text(markup)
    await page.get_by_label("--message").fill(markup)
    await page.get_by_role("button", name="Start", exact=True).click()
    await expect(page.locator("#parameters")).to_contain_text(markup)
    await expect(page.locator("#log")).to_contain_text(markup, timeout=20_000)
    assert await page.evaluate("window.pwned === undefined")
    assert await page.locator("#main img").count() == 0
