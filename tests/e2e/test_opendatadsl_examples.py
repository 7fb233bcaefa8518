"""The OpenDataDSL document's Examples block, request by request, in its order.

After the example renames AZURE_TEST to AZURE_TEST1, the later examples use the new key,
as a user following the document would.
"""

from __future__ import annotations

from tests.problems import problem

BASE = "/api/process/v1"

# The "Add a process" example body, verbatim (its cron has hour 46 read as the
# 5-field form, but it is a valid Quartz expression: second 12, minute 46, any hour).
AZURE_TEST = {
    "_type": "VarProcess",
    "service": "ETL",
    "name": "AZURE_TEST",
    "description": "Azure Test Process",
    "enabled": True,
    "workflow": "#wf_xml_data_loader",
    "cron": "12 46 ? * * *",
    "environment": "production",
    "input": {
        "url": "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml",
        "tx": "#ECB_FX",
    },
}


async def test_the_documents_examples_run_in_order(api):
    # The examples read CURRENCY_METADATA_LOADER, so it must exist first.
    r = await api.admin("POST", BASE, json={"name": "CURRENCY_METADATA_LOADER", "service": "ETL", "script": "currency"})
    assert r.status == 201

    # Get build info
    r = await api.admin("GET", "/api/process")
    assert r.status == 200
    info = await r.json()
    assert info["name"] == "procession" and info["version"]

    # List all processes
    r = await api.admin("GET", BASE, params={"_limit": "-1"})
    assert r.status == 200
    assert [p["_id"] for p in await r.json()] == ["CURRENCY_METADATA_LOADER"]

    # List all process names
    r = await api.admin("GET", BASE, params={"_distinct": "_id"})
    assert r.status == 200
    assert await r.json() == ["CURRENCY_METADATA_LOADER"]

    # Get a process
    r = await api.admin("GET", f"{BASE}/CURRENCY_METADATA_LOADER")
    assert r.status == 200
    loader = await r.json()
    assert (loader["_id"], loader["_type"], loader["service"]) == ("CURRENCY_METADATA_LOADER", "VarProcess", "ETL")

    # Add a process
    r = await api.admin("POST", BASE, json=AZURE_TEST)
    assert r.status == 201
    added = await r.json()
    assert added["_id"] == "AZURE_TEST"
    assert {k: added[k] for k in AZURE_TEST} == AZURE_TEST

    # Rename a process
    r = await api.admin("PUT", f"{BASE}/AZURE_TEST", json={"_id": "AZURE_TEST1"})
    assert r.status == 200
    assert (await r.json())["_id"] == "AZURE_TEST1"
    assert (await api.admin("GET", f"{BASE}/AZURE_TEST")).status == 404
    r = await api.admin("GET", f"{BASE}/AZURE_TEST1")
    assert r.status == 200
    assert (await r.json())["description"] == "Azure Test Process"

    # Get a list of versions
    r = await api.admin("GET", f"{BASE}/AZURE_TEST1/*")
    assert r.status == 200
    assert [v["version"] for v in await r.json()] == ["1"]

    # Get a process version
    r = await api.admin("GET", f"{BASE}/AZURE_TEST1/1")
    assert r.status == 200
    assert (await r.json())["_version"] == 1

    # Tag a process version
    r = await api.admin("PUT", f"{BASE}/AZURE_TEST1/1/PROD")
    assert r.status == 200

    # Get a tagged version
    r = await api.admin("GET", f"{BASE}/AZURE_TEST1/PROD")
    assert r.status == 200
    tagged = await r.json()
    assert (tagged["_id"], tagged["_version"], tagged["cron"]) == ("AZURE_TEST1", 1, "12 46 ? * * *")

    # "Delete a version" is a rollback; with one version it deletes the process.
    r = await api.admin("DELETE", f"{BASE}/AZURE_TEST1")
    assert r.status == 204
    assert (await api.admin("GET", f"{BASE}/AZURE_TEST1")).status == 404

    # Fully delete: nothing is left of AZURE_TEST1, so it is not found.
    r = await api.admin("DELETE", f"{BASE}/AZURE_TEST1/*")
    await problem(r, 404)
    r = await api.admin("GET", BASE, params={"_distinct": "_id"})
    assert await r.json() == ["CURRENCY_METADATA_LOADER"]


async def test_fully_deleting_a_process_with_several_versions_removes_every_version(api):
    await api.admin("POST", BASE, json=AZURE_TEST)
    await api.admin("POST", BASE, json={**AZURE_TEST, "enabled": False})

    r = await api.admin("DELETE", f"{BASE}/AZURE_TEST/*")

    assert r.status == 204
    assert (await api.admin("GET", f"{BASE}/AZURE_TEST/*")).status == 404
    assert (await api.admin("GET", f"{BASE}/AZURE_TEST/1")).status == 404


async def test_the_documents_quartz_cron_is_accepted_and_kept(api):
    r = await api.admin("POST", BASE, json={"name": "CRON", "script": "s", "cron": "12 46 ? * * *"})

    assert r.status == 201
    assert (await (await api.admin("GET", f"{BASE}/CRON")).json())["cron"] == "12 46 ? * * *"


async def test_build_info_needs_no_token(api):
    r = await api.call("GET", "/api/process", token=None)

    assert r.status == 200
    assert set(await r.json()) >= {"name", "version", "build"}
