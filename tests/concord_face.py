"""What the Concord face's e2e tests (tests/e2e/test_concord_*.py) share: a model with two start
events, small caps, and starting, reading and uploading through the face.

Each of those modules imports `settings` by name, so that pytest uses this module's fixture
there: an upload cap and a wait limit small enough to reach cheaply.
"""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from infra.settings import Settings
from tests.zips import a_zip

BASE = "/api/v1/process"
PORTAL = "/api/service/process_portal"
MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D">
  <bpmn:process id="P" isExecutable="true">
    <bpmn:startEvent id="main"/>
    <bpmn:startEvent id="quick"/>
    <bpmn:task id="Approve" name="Approve"/>
    <bpmn:endEvent id="Done"/>
    <bpmn:sequenceFlow id="f1" sourceRef="main" targetRef="Approve"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Approve" targetRef="Done"/>
    <bpmn:sequenceFlow id="f3" sourceRef="quick" targetRef="Done"/>
  </bpmn:process>
</bpmn:definitions>"""


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Small upload caps, so that the caps themselves can be tested cheaply."""
    return Settings(database_url=database_url, data_dir=tmp_path / "data", log_requests=False,
                    max_upload_bytes=4 * 1_048_576, max_wait_seconds=5.0)


async def a_definition(api, key: str = "review") -> str:
    r = await api.admin("POST", "/api/process/v1", json={"_id": key, "workflow": MODEL, "input": {"amount": 0, "note": ""}})
    assert r.status == 201, await r.text()
    return key


async def start(api, entry_point: str, *, as_user: str = "user", **kw) -> dict:
    r = await getattr(api, as_user)("POST", f"{BASE}/{entry_point}", json=kw.pop("json", {"arguments": {"amount": 5}}), **kw)
    assert r.status == 200, await r.text()
    return await r.json()


async def status_of(api, instance_id: str) -> dict:
    r = await api.user("GET", f"{BASE}/{instance_id}")
    assert r.status == 200, await r.text()
    return await r.json()


def script_zip(script: str, arguments: dict, **files: str) -> bytes:
    return a_zip({"flow.json": f'{{"script": "{script}"}}', "request.json": orjson.dumps({"arguments": arguments}).decode(), **files})


async def upload(api, data: bytes, **params) -> dict:
    r = await api.user("POST", BASE, data=io.BytesIO(data), params=params, headers={"Content-Type": "application/zip"})
    assert r.status == 200, await r.text()
    return await r.json()
