"""A Concord form and a `suspend` event answered from the portal (real HTTP, no browser).

The page's controls follow the declared fields; what a browser posts (unticked boxes, one
value per line, ticked allowed values, a file) reaches the flow as the API would give it.
"""

from __future__ import annotations

import re

import aiohttp

from tests.e2e.conftest import Api
from tests.e2e.test_portal_security import sign_in
from tests.polling import until
from tests.zips import a_zip

KINDS = """
configuration:
  runtime: concord-v2
flows:
  default:
    - form: order
    - log: "tags ${order.tags}; sizes ${order.sizes}; rush ${order.rush}; ref ${order.ref}; spec ${order.spec}"
    - suspend: shipped
    - log: "shipped"
forms:
  order:
    - tags: { label: "Tags", type: "string+" }
    - sizes: { label: "Sizes", type: "string*", allow: ["S", "M", "L"] }
    - rush: { label: "Rush", type: "boolean" }
    - ref: { label: "Reference", type: "string", value: "R-1", readonly: true }
    - spec: { label: "Specification", type: "file" }
"""


async def _started(api: Api) -> str:
    form = aiohttp.FormData()
    form.add_field("archive", a_zip({"concord.yml": KINDS}), filename="payload.zip", content_type="application/zip")
    r = await api.user("POST", "/api/v1/process", data=form)
    assert r.status == 200, await r.text()
    return (await r.json())["instanceId"]


async def test_each_field_kind_is_drawn_and_posted_as_the_flow_expects(api: Api):
    pid = await _started(api)
    csrf = await sign_in(api, api.user_token)
    page = await (await api.client.get(f"/ui/processes/{pid}")).text()
    assert "Waiting on: order" in page and 'action="/ui/processes/' + pid + '/form"' in page
    assert re.search(r'<textarea id="cf-1" name="cf.tags"', page)  # at least one free value: one per line
    assert page.count('name="cf.sizes"') == 3  # any of the allowed values: a checkbox each
    assert re.search(r'type="checkbox" id="cf-3" name="cf.rush"', page)
    assert re.search(r'name="cf.ref" value="R-1"\s+type="text"[^>]*readonly', page)
    assert 'type="file" id="cf-5" name="cf.spec"' in page

    # Nothing typed: each mandatory field answers Concord's message and nothing is recorded.
    before = (await api.runtime.instances.get(pid)).version
    r = await api.client.post(f"/ui/processes/{pid}/form", data={"csrf": csrf})
    assert r.status == 422
    text = await r.text()
    assert "Tags: Invalid cardinality, expected at least a single value" in text
    assert "Specification: Invalid cardinality, expected a single value" in text
    assert (await api.runtime.instances.get(pid)).version == before

    body = aiohttp.FormData()
    for name, value in (("csrf", csrf), ("cf.tags", "red\n\n blue \n"), ("cf.sizes", "S"), ("cf.sizes", "L"),
                        ("cf.ref", "forged")):
        body.add_field(name, value)
    body.add_field("cf.spec", b"spec body", filename="spec.txt", content_type="text/plain")
    r = await api.client.post(f"/ui/processes/{pid}/form", data=body, allow_redirects=False)
    assert r.status == 303, await r.text()
    instance = await api.runtime.instances.get(pid)
    assert instance.variables["order"] == {"tags": ["red", "blue"], "sizes": ["S", "L"], "rush": False, "ref": "R-1",
                                           "spec": "_form_files/order/spec"}
    assert "_form_files/order/spec" in instance.files

    # Now it waits for its event: the page offers to resume it, and the flow runs on.
    page = await (await api.client.get(f"/ui/processes/{pid}")).text()
    assert "Waiting for the event: shipped" in page
    r = await api.client.post(f"/ui/processes/{pid}/form", data={"csrf": csrf})
    assert r.status == 409 and "no longer waits on a form" in await r.text()
    r = await api.client.post(f"/ui/processes/{pid}/resume", data={"csrf": csrf}, allow_redirects=False)
    assert r.status == 303
    instance = await api.runtime.instances.get(pid)
    assert instance.status == "completed"
    r = await api.client.post(f"/ui/processes/{pid}/resume", data={"csrf": csrf})
    assert r.status == 409


async def test_another_person_can_neither_see_nor_answer_the_form(api: Api):
    pid = await _started(api)
    csrf = await sign_in(api, await api.runtime.tokens.create("carol", "user"))
    r = await api.client.post(f"/ui/processes/{pid}/form", data={"csrf": csrf, "cf.tags": "x"})
    assert r.status == 404
    r = await api.client.post(f"/ui/processes/{pid}/resume", data={"csrf": csrf})
    assert r.status == 404
    assert "order" in (await api.runtime.instances.get(pid)).forms_waiting


async def test_a_process_and_its_handlers_process_link_to_each_other(api: Api):
    flow = "flows:\n  default:\n    - throw: \"boom\"\n  onFailure:\n    - log: \"handled\"\n"
    form = aiohttp.FormData()
    form.add_field("archive", a_zip({"concord.yml": flow}), filename="payload.zip", content_type="application/zip")
    pid = (await (await api.user("POST", "/api/v1/process", data=form)).json())["instanceId"]

    async def child() -> list | None:
        found = await (await api.user("GET", f"/api/v1/process/{pid}/subprocess")).json()
        return found or None

    handler = (await until(child, within=30))[0]["instanceId"]
    await sign_in(api, api.user_token)
    parent_page = await (await api.client.get(f"/ui/processes/{pid}")).text()
    assert f'<a href="/ui/processes/{handler}">' in parent_page
    child_page = await (await api.client.get(f"/ui/processes/{handler}")).text()
    assert f'<a href="/ui/processes/{pid}">' in child_page and "(FAILURE_HANDLER)" in child_page
