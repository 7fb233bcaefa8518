"""The Concord face's portal: a start by link, answered with an HTML page."""

from __future__ import annotations

from tests.concord_face import PORTAL, a_definition
from tests.concord_face import settings  # noqa: F401 (the fixture: the face's small caps)
from tests.problems import problem


async def test_the_portal_called_with_a_token_starts_and_answers_like_every_concord_start(api):
    await a_definition(api)

    r = await api.user("GET", f"{PORTAL}/start", params={"entryPoint": "review:default:main", "amount": "7"},
                       allow_redirects=False)

    body = await r.json()
    assert r.status == 200 and "Location" not in r.headers
    assert body == {"instanceId": body["instanceId"], "ok": True}
    page = await api.user("GET", f"{PORTAL}/process/{body['instanceId']}")
    text = await page.text()
    assert page.content_type == "text/html"
    assert "SUSPENDED" in text and "name='amount' value='7'" in text and "name='note'" in text


async def test_the_portal_without_an_entry_point_is_400(api):
    await problem(await api.user("GET", f"{PORTAL}/start", allow_redirects=False), 400)
