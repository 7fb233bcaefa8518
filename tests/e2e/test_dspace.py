"""The DSpace face through HTTP: scripts, processes, output, files, and their errors."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from services.common.user_ids import user_uuid
from tests.polling import process_gone, until
from tests.problems import problem

PROCESSES, SCRIPTS = "/api/system/processes", "/api/system/scripts"
OVER = ("FAILED", "STOPPED")


def form(properties: list[dict[str, Any]] | str | None = None, files: dict[str, bytes] | None = None,
         start_time: str | None = None) -> aiohttp.FormData:
    data = aiohttp.FormData(default_to_multipart=True)
    if properties is not None:
        data.add_field("properties", properties if isinstance(properties, str) else json.dumps(properties))
    for name, content in (files or {}).items():
        data.add_field("file", content, filename=name, content_type="text/csv")
    if start_time is not None:
        data.add_field("startTime", start_time)
    return data


async def start(api, script: str, properties: list[dict[str, Any]], *, who: str = "user", **kw: Any) -> dict[str, Any]:
    r = await getattr(api, who)("POST", f"{SCRIPTS}/{script}/processes", data=form(properties, **kw))
    assert r.status == 202, await r.text()
    return await r.json()


async def settled(api, pid: str, statuses: tuple[str, ...] = OVER, timeout: float = 60) -> dict[str, Any]:
    async def body() -> dict[str, Any] | None:
        answer = await (await api.admin("GET", f"{PROCESSES}/{pid}")).json()
        return answer if answer["status"] in statuses else None

    return await until(body, within=timeout)


async def lines(api, pid: str, **params: str) -> list[str]:
    r = await api.admin("GET", f"{PROCESSES}/{pid}/output", params=params)
    assert r.status == 200
    return [x["line"] for x in await r.json()]


async def test_the_script_catalogue_lists_each_script_with_its_parameters(api) -> None:
    body = await (await api.user("GET", SCRIPTS)).json()
    scripts = {s["name"]: s for s in body["_embedded"]["scripts"]}
    assert {"echo-params", "csv-import", "fail", "slow"} <= set(scripts)
    assert {"name": "-m", "nameLong": "--message", "description": "The message to print", "type": "string",
            "mandatory": True} in scripts["echo-params"]["parameters"]
    assert body["page"]["totalElements"] == len(scripts)
    one = await api.user("GET", f"{SCRIPTS}/csv-import")
    assert (await one.json())["parameters"][0]["type"] == "file"
    assert (await api.user("GET", f"{SCRIPTS}/nope")).status == 404


async def test_a_started_script_is_accepted_runs_and_completes_with_its_output(api) -> None:
    started = await start(api, "echo-params", [{"name": "-m", "value": "hello"}, {"name": "--count", "value": "2"}])
    assert started["status"] in ("SCHEDULED", "RUNNING", "STOPPED") and started["userId"] == user_uuid("bob")
    assert started["_links"]["output"]["href"] == f"{PROCESSES}/{started['processId']}/output"
    done = await settled(api, started["processId"])
    assert (done["status"], done["processStatus"], done["scriptName"]) == ("STOPPED", "COMPLETED", "echo-params")
    assert {"name": "-m", "value": "hello"} in done["parameters"]
    assert await lines(api, started["processId"]) == ["hello", "hello"]


async def test_a_failing_script_ends_failed(api) -> None:
    started = await start(api, "fail", [])
    assert (await settled(api, started["processId"]))["status"] == "FAILED"
    assert await lines(api, started["processId"]) == ["something went wrong"]


@pytest.mark.parametrize("hostile", ["; rm -rf /", "$(id)"])
async def test_shell_syntax_in_a_parameter_is_printed_verbatim(api, hostile: str) -> None:
    started = await start(api, "echo-params", [{"name": "--message", "value": hostile}])
    await settled(api, started["processId"])
    assert await lines(api, started["processId"]) == [hostile]


@pytest.mark.parametrize(("properties", "status"), [
    ([], 422),  # the mandatory -m is missing
    ([{"name": "-m", "value": "x"}, {"name": "-n", "value": "three"}], 422),
    ([{"name": "-m", "value": "x"}, {"name": "--colour", "value": "red"}], 422),
    ([{"name": "-m", "value": "x"}, {"name": "-m", "value": "y"}], 422),
    ("[{not json", 400),
    ({"name": "-m"}, 422),
])
async def test_bad_parameters_are_refused_and_nothing_is_stored(api, properties: Any, status: int) -> None:
    payload = properties if isinstance(properties, str | list) else json.dumps(properties)
    r = await api.user("POST", f"{SCRIPTS}/echo-params/processes", data=form(payload))
    await problem(r, status)
    assert (await (await api.admin("GET", PROCESSES)).json())["page"]["totalElements"] == 0


async def test_an_unknown_script_is_404_and_a_body_that_is_not_multipart_is_400(api) -> None:
    assert (await api.user("POST", f"{SCRIPTS}/nope/processes", data=form([]))).status == 404
    r = await api.user("POST", f"{SCRIPTS}/echo-params/processes", json=[{"name": "-m", "value": "x"}])
    assert r.status == 400 and "Invalid mimetype" in (await r.json())["detail"]


async def test_a_file_named_but_not_sent_and_a_duplicate_file_are_422(api) -> None:
    r = await api.user("POST", f"{SCRIPTS}/csv-import/processes", data=form([{"name": "-f", "value": "missing.csv"}]))
    assert r.status == 422
    data = form([{"name": "-f", "value": "a.csv"}], files={"a.csv": b"1"})
    data.add_field("file", b"2", filename="a.csv")
    assert (await api.user("POST", f"{SCRIPTS}/csv-import/processes", data=data)).status == 422


async def test_a_form_past_the_part_cap_is_413(api) -> None:
    data = form([{"name": "-m", "value": "x"}])
    for i in range(api.runtime.settings.max_form_parts):
        data.add_field(f"extra{i}", "x")
    assert (await api.user("POST", f"{SCRIPTS}/echo-params/processes", data=data)).status == 413


async def test_input_and_output_files_are_listed_and_downloadable_with_range_and_etag(api) -> None:
    started = await start(api, "csv-import", [{"name": "-f", "value": "in.csv"}], files={"in.csv": b"a,1\nb,2\n"})
    pid = started["processId"]
    assert (await settled(api, pid))["status"] == "STOPPED"
    listing = await (await api.user("GET", f"{PROCESSES}/{pid}/files")).json()
    types = {f["name"]: f["fileType"] for f in listing["_embedded"]["files"]}
    assert types == {"in.csv": "inputfile", "mapfile": "script_output", "report.txt": "script_output"}
    assert listing["_links"]["mapfile"]["href"] == f"{PROCESSES}/{pid}/files/mapfile"
    whole = await api.user("GET", f"{PROCESSES}/{pid}/files/mapfile")
    content = await whole.read()
    assert content == b"1 a\n2 b\n" and whole.headers["ETag"] == f'"{hashlib.sha256(content).hexdigest()}"'
    part = await api.user("GET", f"{PROCESSES}/{pid}/files/mapfile", headers={"Range": "bytes=4-"})
    assert (part.status, await part.read(), part.headers["Content-Range"]) == (206, b"2 b\n", "bytes 4-7/8")
    assert (await api.user("GET", f"{PROCESSES}/{pid}/files/mapfile", headers={"Range": "bytes=99-"})).status == 416
    same = await api.user("GET", f"{PROCESSES}/{pid}/files/mapfile", headers={"If-None-Match": whole.headers["ETag"]})
    assert same.status == 304
    assert (await api.user("GET", f"{PROCESSES}/{pid}/files/nothing")).status == 404


async def test_a_user_sees_only_their_own_processes_and_an_admin_sees_all(api) -> None:
    mine = await start(api, "echo-params", [{"name": "-m", "value": "bob's"}])
    theirs = await start(api, "echo-params", [{"name": "-m", "value": "alice's"}], who="admin")
    carol = await api.runtime.tokens.create("carol", "user")
    assert (await api.call("GET", f"{PROCESSES}/{mine['processId']}", token=carol)).status == 403
    assert (await api.call("GET", f"{PROCESSES}/{mine['processId']}/output", token=carol)).status == 403
    assert (await api.call("DELETE", f"{PROCESSES}/{mine['processId']}", token=carol)).status == 403
    assert (await api.call("GET", f"{PROCESSES}/{mine['processId']}", token=None)).status == 401
    assert (await api.user("GET", f"{PROCESSES}/{theirs['processId']}")).status == 403
    own = await (await api.user("GET", PROCESSES)).json()
    assert [p["processId"] for p in own["_embedded"]["processes"]] == [mine["processId"]]
    every = await (await api.admin("GET", PROCESSES)).json()
    assert every["page"]["totalElements"] == 2
    searched = await (await api.user("GET", f"{PROCESSES}/search/own")).json()
    assert [p["processId"] for p in searched["_embedded"]["processes"]] == [mine["processId"]]


async def test_the_list_filters_by_script_user_status_and_parameter_and_pages(api) -> None:
    a = await start(api, "echo-params", [{"name": "-m", "value": "one"}])
    b = await start(api, "echo-params", [{"name": "-m", "value": "two"}], who="admin")
    c = await start(api, "fail", [])
    for p in (a, b, c):
        await settled(api, p["processId"])

    async def ids(**params: str) -> list[str]:
        r = await api.admin("GET", PROCESSES, params=params)
        assert r.status == 200, await r.text()
        return [p["processId"] for p in (await r.json())["_embedded"]["processes"]]

    assert set(await ids(script="echo-params")) == {a["processId"], b["processId"]}
    assert set(await ids(userId="bob")) == {a["processId"], c["processId"]}
    assert await ids(status="FAILED") == [c["processId"]]
    assert await ids(**{"parameter.m": "two"}) == [b["processId"]]
    assert await ids(**{"parameter.--message": "one"}) == [a["processId"]]
    assert await ids(sort="creationTime,asc") == [a["processId"], b["processId"], c["processId"]]
    page = await (await api.admin("GET", PROCESSES, params={"size": "2", "page": "1", "sort": "creationTime,asc"})).json()
    assert page["page"] == {"size": 2, "totalElements": 3, "totalPages": 2, "number": 1}
    assert [p["processId"] for p in page["_embedded"]["processes"]] == [c["processId"]]
    assert "prev" in page["_links"] and "next" not in page["_links"]
    for bad in ({"sort": "colour,asc"}, {"page": "-1"}, {"size": "0"}, {"status": "SLEEPING"}):
        r = await api.admin("GET", PROCESSES, params=bad)
        await problem(r, 400)


async def test_search_by_property_needs_a_property_and_sorts_on_times_only(api) -> None:
    started = await start(api, "fail", [])
    await settled(api, started["processId"])
    assert (await api.admin("GET", f"{PROCESSES}/search/byProperty")).status == 400
    assert (await api.admin("GET", f"{PROCESSES}/search/byProperty", params={"scriptName": "fail", "sort": "script,asc"})).status == 400
    found = await (await api.admin("GET", f"{PROCESSES}/search/byProperty", params={"processStatus": "FAILED"})).json()
    assert [p["processId"] for p in found["_embedded"]["processes"]] == [started["processId"]]


async def test_a_filter_holding_a_nul_matches_nothing(api) -> None:
    started = await start(api, "fail", [])
    await settled(api, started["processId"])
    for path, params in ((f"{PROCESSES}/search/byProperty", {"scriptName": "fail\x00"}),
                         (f"{PROCESSES}/search/byProperty", {"userId": "\x00", "processStatus": "FAILED"}),
                         (PROCESSES, {"script": "\x00"}), (PROCESSES, {"parameter.\x00": "x"})):
        r = await api.admin("GET", path, params=params)
        assert r.status == 200, await r.text()
        assert (await r.json())["page"]["totalElements"] == 0
    found = await (await api.admin("GET", f"{PROCESSES}/search/byProperty", params={"scriptName": "fail"})).json()
    assert found["page"]["totalElements"] == 1


async def test_output_can_be_cut_by_time_and_a_bad_time_is_400(api) -> None:
    started = await start(api, "echo-params", [{"name": "-m", "value": "x"}, {"name": "-n", "value": "3"}])
    await settled(api, started["processId"])
    everything = await (await api.admin("GET", f"{PROCESSES}/{started['processId']}/output")).json()
    first, last = everything[0]["time"], everything[-1]["time"]
    assert len(await lines(api, started["processId"], fromTime=last)) == 1 + sum(x["time"] < last for x in everything[:0])
    assert len(await lines(api, started["processId"], toTime=first)) >= 1
    assert await lines(api, started["processId"], toTime="2000-01-01T00:00:00Z") == []
    assert (await api.admin("GET", f"{PROCESSES}/{started['processId']}/output", params={"fromTime": "soon"})).status == 400


async def test_output_is_readable_while_the_script_runs(api) -> None:
    started = await start(api, "slow", [{"name": "-s", "value": "30"}])

    async def three_lines() -> bool:
        return len(await lines(api, started["processId"])) >= 3

    await until(three_lines, within=30)
    assert (await api.admin("GET", f"{PROCESSES}/{started['processId']}")).status == 200
    assert (await (await api.admin("GET", f"{PROCESSES}/{started['processId']}")).json())["status"] == "RUNNING"
    assert (await api.user("DELETE", f"{PROCESSES}/{started['processId']}")).status == 204


async def test_deleting_a_running_process_stops_it_and_removes_it(api) -> None:
    started = await start(api, "slow", [{"name": "-s", "value": "60"}])
    output = await until(lambda: lines(api, started["processId"]), within=30)
    pid = int(output[0].split()[1])
    assert (await api.user("DELETE", f"{PROCESSES}/{started['processId']}")).status == 204
    assert (await api.user("GET", f"{PROCESSES}/{started['processId']}")).status == 404
    assert (await api.user("DELETE", f"{PROCESSES}/{started['processId']}")).status == 404
    await until(lambda: process_gone(pid), within=30)


async def test_a_future_start_time_schedules_the_run_for_later(api) -> None:
    when = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    started = await start(api, "echo-params", [{"name": "-m", "value": "later"}], start_time=when)
    assert started["status"] == "SCHEDULED"
    assert started["startTime"] == datetime.fromisoformat(when).isoformat().replace("+00:00", "Z")
    assert await lines(api, started["processId"]) == []
    done = await settled(api, started["processId"])
    assert done["status"] == "STOPPED" and await lines(api, started["processId"]) == ["later"]
    assert datetime.fromisoformat(done["startTime"].replace("Z", "+00:00")) >= datetime.fromisoformat(when)


async def test_a_process_started_through_dspace_is_visible_through_hackney_and_altinn(api) -> None:
    started = await start(api, "echo-params", [{"name": "-m", "value": "everywhere"}])
    pid = started["processId"]
    await settled(api, pid)
    hackney = await api.user("GET", f"/api/v1/process/script.echo-params/{pid}")
    assert hackney.status == 200 and (await hackney.json())["currentState"]["state"] == "end"
    altinn = await api.user("GET", f"/apps/script.echo-params/api/v1/instances/0/{pid}/process")
    assert altinn.status == 200 and (await altinn.json())["ended"] is not None
