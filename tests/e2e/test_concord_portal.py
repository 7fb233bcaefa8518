"""The Concord face's portal: a start by link, answered with an HTML page."""

from __future__ import annotations

from tests.concord_face import PORTAL, a_definition
from tests.concord_face import settings  # noqa: F401 (the fixture: the face's small caps)
from tests.problems import problem


async def test_the_portal_starts_and_redirects_to_a_page_with_the_start_form_and_status(api):
    await a_definition(api)

    r = await api.user("GET", f"{PORTAL}/start", params={"entryPoint": "review:default:main", "amount": "7"},
                       allow_redirects=False)

    assert r.status == 303
    page = await api.user("GET", r.headers["Location"])
    text = await page.text()
    assert page.content_type == "text/html"
    assert "SUSPENDED" in text and "name='amount' value='7'" in text and "name='note'" in text


async def test_the_portal_without_an_entry_point_is_400(api):
    await problem(await api.user("GET", f"{PORTAL}/start", allow_redirects=False), 400)
