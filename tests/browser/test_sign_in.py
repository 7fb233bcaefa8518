"""Signing in and out in a real browser."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.conftest import Server, sign_in


async def test_sign_in_and_out(page: Page, server: Server):
    await page.goto(server.url + "/")
    await expect(page).to_have_url(server.url + "/ui/sign-in?next=/ui/")
    await page.get_by_label("Token").fill("prc_not-a-token")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text("That token is not valid.")
    await sign_in(page, server, "bob")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    await expect(page.locator("header .user")).to_have_text("bob")
    cookie = next(c for c in await page.context.cookies() if c["name"] == "procession_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(server.url + "/ui/sign-in")
    await page.goto(server.url + "/ui/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
