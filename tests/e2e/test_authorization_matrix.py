"""The authorization matrix: every route of the route table, tried on user A's resources by user B,
by a caller without a token and by a revoked token.

The cases are keyed by the route table itself, so a route added without a case fails the
first test. Expected answers for user B:
- `mine`: A's instance, run, file or log: 404 and nothing of A's in the body (as if absent);
- `dspace`: the same on the DSpace face: 403, as DSpace documents;
- `list`: a list, search or count: 200 without any of A's instances;
- `shared`: a definition or script of the catalogue, shared by every user: readable (200);
- `admin`: admin only: 403;
- `start`: B starts something of B's own: not a 5xx, nothing of A's in the body;
- `public`: no token needed.
Every non-public route is 401 without a token and with a revoked one.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from services.app import ROUTES

SECRET = "ann-secret-4f1c"  # in A's form data and files: must never reach B
TARGET = "ann-target-77d2"
PARTY = "5551"

# One data task whose only listed action is `submit`, then the end.
MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:altinn="http://altinn.no/process" id="D">
  <bpmn:process id="P" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1"/>
    <bpmn:task id="Task_1" name="Fill in">
      <bpmn:extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType>
        <altinn:actions><altinn:action>submit</altinn:action></altinn:actions>
      </altinn:taskExtension></bpmn:extensionElements>
    </bpmn:task>
    <bpmn:endEvent id="EndEvent_1"/>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Task_1"/>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_1" targetRef="EndEvent_1"/>
  </bpmn:process>
</bpmn:definitions>"""

_ID = "{id:(?!(?:log|attachment|waitForCompletion|form|resume|subprocess)(?:/|$))[^/]+}"
_INST = "/apps/{key}/api/v1/instances/{partyId}/{instanceGuid}"
_ALT = "/apps/mva/api/v1/instances/{party}/{al}"
_DS = "/api/system/processes/{id:[^/]+}"

CASES: dict[str, tuple[str, str]] = {
    "GET /healthz": ("public", "/healthz"),
    "GET /readyz": ("public", "/readyz"),
    "GET /metrics": ("admin", "/metrics"),
    "GET /api/openapi.json": ("public", "/api/openapi.json"),
    "GET /api/docs": ("public", "/api/docs"),
    "GET /api/asyncapi.json": ("public", "/api/asyncapi.json"),
    "GET /api/schemas/events/{event_type}": ("public", "/api/schemas/events/procession.ProcessInstance.Created"),
    "GET /api/process": ("public", "/api/process"),
    "GET /api/v1/events": ("admin", "/api/v1/events"),
    "GET /api/v1/events/stream": ("admin", "/api/v1/events/stream"),
    "GET /api/v1/aggregates/{aggregate_id}/events": ("admin", "/api/v1/aggregates/{hk}/events"),
    "GET /api/v1/aggregates/{aggregate_id}/events/stream": ("admin", "/api/v1/aggregates/{hk}/events/stream"),
    "GET /api/process/v1": ("shared", "/api/process/v1"),
    "POST /api/process/v1": ("admin", "/api/process/v1"),
    "GET /api/process/v1/{key}": ("shared", "/api/process/v1/mva"),
    "PUT /api/process/v1/{key}": ("admin", "/api/process/v1/mva"),
    "DELETE /api/process/v1/{key}": ("admin", "/api/process/v1/mva"),
    "GET /api/process/v1/{key}/{selector}": ("shared", "/api/process/v1/mva/1"),
    "DELETE /api/process/v1/{key}/{selector}": ("admin", "/api/process/v1/mva/1"),
    "PUT /api/process/v1/{key}/{selector}/{tag}": ("admin", "/api/process/v1/mva/1/prod"),
    "POST /api/v1/process": ("start", "/api/v1/process"),
    "GET /api/v1/process": ("list", "/api/v1/process?targetId=" + TARGET),
    "POST /api/v1/process/{processName}": ("start", "/api/v1/process/example-application"),
    f"GET /api/v1/process/{{processName}}/{_ID}": ("mine", "/api/v1/process/example-application/{hk}"),
    f"PATCH /api/v1/process/{{processName}}/{_ID}": ("mine", "/api/v1/process/example-application/{hk}"),
    f"PATCH /api/v1/process/{{processName}}/{_ID}/{{trigger}}": ("mine", "/api/v1/process/example-application/{hk}/AttachDocuments"),
    "GET /apps/{key}/process": ("shared", "/apps/mva/process"),
    "GET /apps/{key}/api/v1/meta/process": ("shared", "/apps/mva/api/v1/meta/process"),
    "POST /apps/{key}/api/v1/instances": ("start", "/apps/mva/api/v1/instances?instanceOwnerPartyId=" + PARTY),
    f"GET {_INST}/process": ("mine", _ALT + "/process"),
    f"POST {_INST}/process/start": ("mine", _ALT + "/process/start"),
    f"GET {_INST}/process/next": ("mine", _ALT + "/process/next"),
    f"PUT {_INST}/process/next": ("mine", _ALT + "/process/next"),
    f"PUT {_INST}/process/completeProcess": ("mine", _ALT + "/process/completeProcess"),
    f"GET {_INST}/process/history": ("mine", _ALT + "/process/history"),
    f"GET {_INST}/events": ("mine", _ALT + "/events"),
    "GET /api/v1/instances/{id}/events": ("mine", "/api/v1/instances/{hk}/events"),
    "GET /api/v1/instances/{id}/events/stream": ("mine", "/api/v1/instances/{sp}/events/stream"),
    "GET /api/v1/process/{id}": ("mine", "/api/v1/process/{sp}"),
    "DELETE /api/v1/process/{id}": ("mine", "/api/v1/process/{sp}"),
    "GET /api/v1/process/{id}/waitForCompletion": ("mine", "/api/v1/process/{sp}/waitForCompletion?timeout=0"),
    "GET /api/v1/process/{id}/log": ("mine", "/api/v1/process/{sp}/log"),
    "GET /api/v1/process/{id}/form": ("mine", "/api/v1/process/{sp}/form"),
    "GET /api/v1/process/{id}/form/{formName}": ("mine", "/api/v1/process/{sp}/form/myForm"),
    "POST /api/v1/process/{id}/form/{formName}": ("mine", "/api/v1/process/{sp}/form/myForm"),
    "POST /api/v1/process/{id}/resume/{eventName}": ("mine", "/api/v1/process/{sp}/resume/ev"),
    "GET /api/v1/process/{id}/attachment": ("mine", "/api/v1/process/{sp}/attachment"),
    "GET /api/v1/process/{id}/subprocess": ("mine", "/api/v1/process/{sp}/subprocess"),
    "GET /api/v1/process/{id}/attachment/{name:.+}": ("mine", "/api/v1/process/{sp}/attachment/in.csv"),
    "POST /api/v1/process/{id}/attachment/{name:.+}": ("mine", "/api/v1/process/{sp}/attachment/in.csv"),
    "GET /api/service/process_portal/start": ("start", "/api/service/process_portal/start?entryPoint=example-application"),
    "GET /api/service/process_portal/process/{id}": ("mine", "/api/service/process_portal/process/{hk}"),
    "GET /api/system/processes": ("list", "/api/system/processes"),
    "GET /api/system/processes/search/byProperty": ("list", "/api/system/processes/search/byProperty?scriptName=csv-import"),
    "GET /api/system/processes/search/own": ("list", "/api/system/processes/search/own"),
    f"GET {_DS}": ("dspace", "/api/system/processes/{sp}"),
    f"DELETE {_DS}": ("dspace", "/api/system/processes/{sp}"),
    f"GET {_DS}/output": ("dspace", "/api/system/processes/{sp}/output"),
    f"GET {_DS}/files": ("dspace", "/api/system/processes/{sp}/files"),
    f"GET {_DS}/files/{{name:.+}}": ("dspace", "/api/system/processes/{sp}/files/in.csv"),
    "GET /api/system/scripts": ("shared", "/api/system/scripts"),
    "GET /api/system/scripts/{name}": ("shared", "/api/system/scripts/csv-import"),
    "POST /api/system/scripts/{name}/processes": ("start", "/api/system/scripts/echo-params/processes"),
}
BROWSER_ROUTES = {"GET /api/service/process_portal/start", "GET /api/service/process_portal/process/{id}"}
EXPECTED = {"mine": 404, "dspace": 403, "list": 200, "shared": 200, "admin": 403}


def test_every_route_of_the_route_table_has_a_case():
    table = {f"{r.method} {r.path}" for r in ROUTES}

    assert sorted(table - set(CASES)) == [], "routes without an authorization case"
    assert sorted(set(CASES) - table) == [], "cases for routes that no longer exist"


async def _a_resources(api, ann: str) -> dict[str, str]:
    """A Hackney process, a finished script run with an input file, and an Altinn instance, all Ann's."""
    r = await api.admin("POST", "/api/process/v1", json={"_id": "mva", "workflow": MODEL})
    assert r.status == 201, await r.text()
    r = await api.call("POST", "/api/v1/process/example-application", token=ann,
                       json={"targetId": TARGET, "formData": {"note": SECRET}})
    assert r.status == 201, await r.text()
    hk = (await r.json())["id"]
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("properties", json.dumps([{"name": "-f", "value": "in.csv"}]))
    form.add_field("file", f"{SECRET},1\n".encode(), filename="in.csv", content_type="text/csv")
    r = await api.call("POST", "/api/system/scripts/csv-import/processes", token=ann, data=form)
    assert r.status == 202, await r.text()
    sp = (await r.json())["processId"]
    async with asyncio.timeout(60):
        while (await (await api.admin("GET", f"/api/system/processes/{sp}")).json())["status"] not in ("STOPPED", "FAILED"):
            await asyncio.sleep(0.05)
    r = await api.call("POST", f"/apps/mva/api/v1/instances?instanceOwnerPartyId={PARTY}", token=ann)
    assert r.status == 201, await r.text()
    al = (await r.json())["id"].split("/")[1]
    return {"hk": hk, "sp": sp, "al": al, "party": PARTY}


async def test_user_b_an_anonymous_caller_and_a_revoked_token_never_reach_user_as_resources(api):
    tokens = api.runtime.tokens
    ann = await tokens.create("ann", "user")
    ids = await _a_resources(api, ann)
    revoked_id, revoked = await tokens.issue("ann", "user")
    signal = tokens.invalidated
    await tokens.revoke(str(revoked_id))
    await asyncio.wait_for(signal.wait(), 30)
    mine = [SECRET, TARGET, ids["hk"], ids["sp"], ids["al"]]
    wrong: list[str] = []
    routes = {f"{r.method} {r.path}": r for r in ROUTES}

    for key, (kind, template) in CASES.items():
        route = routes[key]
        url = template.format(**ids)
        leaks = [x for x in mine if x not in url]  # a problem's `instance` echoes the path asked for
        body = {"json": {}} if route.method in ("POST", "PUT", "PATCH") and kind != "start" else {}
        if kind == "start" and "scripts" in url:
            form = aiohttp.FormData(default_to_multipart=True)
            form.add_field("properties", json.dumps([{"name": "-m", "value": "hello"}]))
            body = {"data": form}
        elif kind == "start" and route.method == "POST":
            body = {"json": {"processName": "example-application"}}
        if kind != "public":
            for who, token in (("anonymous", None), ("revoked", revoked)):
                r = await api.call(route.method, url, token=token, allow_redirects=False, **body)
                text = await r.text() if r.status != 200 else ""
                # Concord's portal routes are for browsers: without a token they go to the portal (which signs in).
                to_sign_in = r.status == 303 and r.headers.get("Location", "").startswith("/ui/")
                if not (r.status == 401 or (key in BROWSER_ROUTES and to_sign_in)) or any(x in text for x in leaks):
                    wrong.append(f"{key} as {who}: {r.status} {text[:120]}")
            if kind == "start" and "scripts" in url:  # a form is read once
                form = aiohttp.FormData(default_to_multipart=True)
                form.add_field("properties", json.dumps([{"name": "-m", "value": "hello"}]))
                body = {"data": form}
        r = await api.user(route.method, url, allow_redirects=False, **body)
        text = await r.text() if "stream" not in url or r.status != 200 else ""
        if kind in EXPECTED and r.status != EXPECTED[kind]:
            wrong.append(f"{key} as B: {r.status}, expected {EXPECTED[kind]}: {text[:160]}")
        if kind == "start" and r.status >= 500:
            wrong.append(f"{key} as B: {r.status}")
        if kind in ("mine", "dspace", "list", "start", "admin") and any(x in text for x in leaks):
            wrong.append(f"{key} as B: A's data in the body: {text[:160]}")

    assert wrong == []
    # Nothing B tried changed A's things.
    for path in (f"/api/v1/process/example-application/{ids['hk']}", f"/api/system/processes/{ids['sp']}",
                 f"/apps/mva/api/v1/instances/{PARTY}/{ids['al']}/process"):
        r = await api.call("GET", path, token=ann)
        assert r.status == 200, (path, await r.text())
    hackney = await (await api.call("GET", f"/api/v1/process/example-application/{ids['hk']}", token=ann)).json()
    assert hackney["versionNumber"] == (await api.runtime.instances.get(ids["hk"])).version
    altinn = await (await api.call("GET", f"/apps/mva/api/v1/instances/{PARTY}/{ids['al']}/process", token=ann)).json()
    assert altinn.get("started") in (None, "")  # B's start did not happen


async def test_a_process_assigned_to_a_users_team_is_theirs_too(api):
    tokens = api.runtime.tokens
    ann = await tokens.create("ann", "user")
    carol = await tokens.create("carol", "user", teams=["housingofficers"])
    r = await api.call("POST", "/api/v1/process/example-application", token=ann, json={"targetId": TARGET})
    assert r.status == 201, await r.text()
    hk = (await r.json())["id"]
    r = await api.call("PATCH", f"/api/v1/process/example-application/{hk}", token=ann,
                       json={"assignment": {"type": "team", "value": "housingofficers"}})
    assert r.status == 204, await r.text()

    seen = await api.call("GET", f"/api/v1/process/example-application/{hk}", token=carol)
    listed = await (await api.call("GET", "/api/v1/process", token=carol)).json()
    unseen = await api.user("GET", f"/api/v1/process/example-application/{hk}")
    dspace = await (await api.call("GET", "/api/system/processes", token=carol)).json()

    assert seen.status == 200
    assert [p["id"] for p in listed["results"]] == [hk]
    assert unseen.status == 404
    assert hk in json.dumps(dspace)


@pytest.mark.parametrize(("action", "status"), [("reject", 403), ("submit", 200)])
async def test_a_user_may_only_name_an_action_the_task_lists(api, action, status):
    r = await api.admin("POST", "/api/process/v1", json={"_id": "acts", "workflow": MODEL})
    assert r.status == 201, await r.text()
    r = await api.user("POST", f"/apps/acts/api/v1/instances?instanceOwnerPartyId={PARTY}")
    path = f"/apps/acts/api/v1/instances/{PARTY}/{(await r.json())['id'].split('/')[1]}"
    assert (await api.user("POST", f"{path}/process/start")).status == 200

    r = await api.user("PUT", f"{path}/process/next", json={"action": action})

    assert r.status == status, await r.text()
    if status == 403:
        assert (await api.admin("PUT", f"{path}/process/next", json={"action": action})).status != 403
