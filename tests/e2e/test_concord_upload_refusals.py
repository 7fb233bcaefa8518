"""Concord uploads that are refused: hostile archives, oversized bodies, bad names, nothing to run."""

from __future__ import annotations

import io
from pathlib import Path

import aiohttp
import pytest

from tests.concord_face import BASE, MODEL
from tests.concord_face import settings  # noqa: F401 (the fixture: the face's small caps)
from tests.factories import ALICE
from tests.problems import problem
from tests.zips import HOSTILE, a_zip


@pytest.mark.parametrize("kind", sorted(HOSTILE))
async def test_a_hostile_archive_is_refused_and_nothing_is_written_or_started(api, tmp_path: Path, kind):
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()

    r = await api.user("POST", BASE, data=io.BytesIO(HOSTILE[kind]()), headers={"Content-Type": "application/zip"})

    await problem(r, 400, 413)
    assert list(sentinel.iterdir()) == []
    assert await api.runtime.instance_views.by_target(ALICE, None, limit=10, offset=0) == []


async def test_a_hostile_archive_in_a_form_is_refused_too(api):
    form = aiohttp.FormData()
    form.add_field("archive", HOSTILE["parent traversal"](), filename="payload.zip", content_type="application/octet-stream")

    body = await problem(await api.user("POST", BASE, data=form), 400)

    assert "'..'" in body["detail"]


async def test_an_archive_over_the_upload_cap_is_413(api):
    big = a_zip({"noise.bin": bytes(range(256)) * 20_000}, method=0)

    await problem(await api.user("POST", BASE, data=io.BytesIO(big), headers={"Content-Type": "application/octet-stream"}), 413)


@pytest.mark.parametrize(("name", "filename"), [("../x.txt", "x.txt"), ("/etc/x", "x"), ("ok.txt", "../../etc/passwd"), ("a..b", None)])
async def test_form_names_with_dot_dot_or_a_leading_slash_are_400(api, name, filename):
    form = aiohttp.FormData(default_to_multipart=True)
    if filename is None:  # a text part (a parameter)
        form.add_field(name, "data")
    else:
        form.add_field(name, b"data", filename=filename, content_type="application/octet-stream")

    await problem(await api.user("POST", BASE, data=form), 400)


async def test_a_body_that_is_neither_json_zip_nor_form_is_415(api):
    await problem(await api.user("POST", BASE, data=b"hello", headers={"Content-Type": "text/plain"}), 415)


async def test_an_archive_with_nothing_to_run_is_400(api):
    r = await api.user("POST", BASE, data=a_zip({"readme.txt": "hi"}), headers={"Content-Type": "application/zip"})

    assert "nothing to run" in (await problem(r, 400))["detail"]


async def test_a_concord_project_without_flows_is_400_naming_why(api):
    # Concord projects run (tests/e2e/test_concord_projects.py); one with nothing to run is refused.
    r = await api.user("POST", BASE, data=a_zip({"concord.yml": "flows: {}"}), headers={"Content-Type": "application/zip"})

    assert "the project has no flows" in "\n".join((await problem(r, 400))["errors"])


async def test_an_entry_point_naming_a_configuration_beside_an_archive_model_is_400(api):
    data = a_zip({"flow.bpmn": MODEL, "request.json": '{"entryPoint": "review:default:main"}'})

    r = await api.user("POST", BASE, data=data, headers={"Content-Type": "application/zip"})

    assert "one or the other" in (await problem(r, 400))["detail"]
