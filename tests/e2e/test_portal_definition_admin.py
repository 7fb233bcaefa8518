"""The definition page over real HTTP: tags, roll back (admins), the diff between versions, the schedule."""

from __future__ import annotations

import re

from tests.e2e.conftest import Api
from tests.e2e.test_portal_security import sign_in

MARKUP = "<img src=x onerror=alert(1)>"


async def _two_versions(api: Api, key: str = "tagged") -> None:
    for description in ("first", MARKUP):
        r = await api.admin("POST", "/api/process/v1", json={"_id": key, "description": description, "script": "echo-params"})
        assert r.status in (200, 201), await r.text()


async def _tags(api: Api, key: str) -> dict[str, int]:
    return {t: v.version for v in await api.runtime.definition_views.versions(key) for t in v.tags}


async def test_an_admin_tags_moves_removes_and_rolls_back(api: Api):
    await _two_versions(api)
    csrf = await sign_in(api, api.admin_token)
    page = await (await api.client.get("/ui/definitions/tagged")).text()
    assert "Roll back to version 1" in page and 'id="tag-form"' in page
    r = await api.client.post("/ui/definitions/tagged/tag", data={"csrf": csrf, "tag": "stable", "version": "1"},
                              allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/ui/definitions/tagged?done=tagged"
    assert (await _tags(api, "tagged"))["stable"] == 1
    await api.client.post("/ui/definitions/tagged/tag", data={"csrf": csrf, "tag": "stable", "version": "2"})
    assert (await _tags(api, "tagged"))["stable"] == 2  # moved, not copied
    page = await (await api.client.get("/ui/definitions/tagged")).text()
    assert 'aria-label="Remove tag stable"' in page
    await api.client.post("/ui/definitions/tagged/untag", data={"csrf": csrf, "tag": "stable"})
    assert "stable" not in await _tags(api, "tagged")
    r = await api.client.post("/ui/definitions/tagged/tag", data={"csrf": csrf, "tag": "x", "version": "9"})
    assert r.status == 404 and "has no version" in await r.text()
    r = await api.client.post("/ui/definitions/tagged/rollback", data={"csrf": csrf}, allow_redirects=False)
    assert r.status == 303
    current, _ = await api.runtime.definition_views.current("tagged")
    assert current.version == 1 and current.configuration["description"] == "first"
    r = await api.client.post("/ui/definitions/tagged/rollback", data={"csrf": csrf})
    assert r.status == 409 and "nothing to roll back to" in await r.text()
    assert (await api.runtime.definition_views.current("tagged"))[0].version == 1


async def test_a_user_and_a_forged_form_change_nothing(api: Api):
    await _two_versions(api)
    csrf = await sign_in(api, api.user_token)
    page = await (await api.client.get("/ui/definitions/tagged")).text()
    assert "Roll back" not in page and 'id="tag-form"' not in page
    before = await api.event_count()
    for path, data in (("tag", {"tag": "t", "version": "1"}), ("untag", {"tag": "t"}), ("rollback", {})):
        r = await api.client.post(f"/ui/definitions/tagged/{path}", data={"csrf": csrf, **data})
        assert r.status == 403, path
    await api.client.post("/ui/sign-out", data={"csrf": csrf})
    await sign_in(api, api.admin_token)
    r = await api.client.post("/ui/definitions/tagged/rollback", data={"csrf": "forged"})
    assert r.status == 403 and "CSRF" in await r.text()
    assert await api.event_count() == before


async def test_the_diff_between_two_versions_is_escaped(api: Api):
    await _two_versions(api)
    await sign_in(api, api.user_token)
    r = await api.client.get("/ui/definitions/tagged?from=1&to=2")
    text = await r.text()
    assert r.status == 200
    assert '<span class="del">-  &#34;description&#34;: &#34;first&#34;,</span>' in text
    assert '<span class="add">+  &#34;description&#34;: &#34;&lt;img src=x onerror=alert(1)&gt;&#34;,</span>' in text
    assert MARKUP not in text
    same = await (await api.client.get("/ui/definitions/tagged?from=2&to=2")).text()
    assert "Versions 2 and 2 are the same." in same
    r = await api.client.get("/ui/definitions/tagged?from=1&to=7")
    assert r.status == 404


async def test_the_schedule_in_words_and_its_next_fires(api: Api):
    r = await api.admin("POST", "/api/process/v1", json={"_id": "nightly", "script": "echo-params", "cron": "30 6 * * 1-5"})
    assert r.status == 201, await r.text()
    await sign_in(api, api.user_token)
    text = await (await api.client.get("/ui/definitions/nightly")).text()
    assert '<p id="schedule-words">on weekdays at 06:30 (UTC) <code>30 6 * * 1-5</code>' in text
    fires = re.findall(r'<li><time datetime="([^"]+)" data-local>', text.split('id="next-fires"')[1])
    assert len(fires) == 5 and all(f.endswith("T06:30:00+00:00") for f in fires)
