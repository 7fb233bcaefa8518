"""P7 / P7s: whole lifecycles per second through HTTP, with one and two service processes.

P7:  an Altinn app on a simple linear process (start, a data task, a confirmation task, end);
     a lifecycle is create, start, next, next (four dependent calls), 16 client connections.
     Measured with `procession serve` (one process) and `procession serve --workers 2`.
P7s: a lifecycle is starting the `echo-params` script and waiting until its process is over;
     the baseline is bare `subprocess` spawns of the same script, same concurrency, same run.
"""

from __future__ import annotations

import os
from pathlib import Path

import aiohttp
import pytest

from service import SECONDS, run_tool, running_service

pytestmark = pytest.mark.perf
CONCURRENCY = int(os.environ.get("PERF_LIFECYCLE_CONCURRENCY", "16"))
SIMPLE_LINEAR = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:altinn="http://altinn.no/process" id="D">
  <bpmn:process id="P" isExecutable="false">
    <bpmn:startEvent id="StartEvent"/>
    <bpmn:sequenceFlow id="Flow1" sourceRef="StartEvent" targetRef="Task1"/>
    <bpmn:task id="Task1" name="Utfylling">
      <bpmn:extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></bpmn:extensionElements>
    </bpmn:task>
    <bpmn:sequenceFlow id="Flow2" sourceRef="Task1" targetRef="Task2"/>
    <bpmn:task id="Task2" name="Bekreft skjemadata">
      <bpmn:extensionElements><altinn:taskExtension><altinn:taskType>confirmation</altinn:taskType></altinn:taskExtension></bpmn:extensionElements>
    </bpmn:task>
    <bpmn:sequenceFlow id="Flow3" sourceRef="Task2" targetRef="EndEvent"/>
    <bpmn:endEvent id="EndEvent"/>
  </bpmn:process>
</bpmn:definitions>"""


async def post_app(base: str, token: str, key: str = "linear") -> None:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        async with session.post(f"{base}/api/process/v1", json={"_id": key, "workflow": SIMPLE_LINEAR}) as r:
            assert r.status in (200, 201), await r.text()


async def altinn_lifecycles(database_url: str, tmp_path: Path, workers: int) -> dict:
    async with running_service(database_url, tmp_path / f"w{workers}", workers=workers) as service:
        await post_app(service.base, service.token)
        result = run_tool(service, "lifecycles.py", "--kind", "altinn", "--base", service.base,
                          "--token", service.token, "--concurrency", str(CONCURRENCY))
        result["rss_mb"] = service.rss_mb()
    return result


async def test_altinn_lifecycles_with_one_and_two_workers(database_url: str, tmp_path: Path, report) -> None:
    one = await altinn_lifecycles(database_url, tmp_path, 1)
    two = await altinn_lifecycles(database_url, tmp_path, 2)
    assert one["requests"] > 0 and two["requests"] > 0

    print(f"\nPostgreSQL: {await report.server_settings(database_url)}")
    report.table(
        f"P7: Altinn simple-linear lifecycles (create, start, next, next), {CONCURRENCY} connections, {SECONDS:g} s",
        ["workers", "lifecycles", "lifecycles/s", "p50 ms", "p99 ms", "max ms", "errors", "CPU ms/lifecycle: service",
         "PostgreSQL", "load tool", "machine busy %"],
        [[w, r["requests"], r["rps"], r["p50_ms"], r["p99_ms"], r["max_ms"], r["errors"],
          f"{r['server_cpu_ms_per_request']:.1f}", f"{r['postgres_cpu_ms_per_request']:.1f}",
          f"{r['tool_cpu_ms_per_request']:.1f}", f"{r['machine_busy_percent']:.0f}"] for w, r in ((1, one), (2, two))],
    )
    for r in (one, two):
        for sample in r["error_samples"]:
            print(f"  error sample: {sample}")
    print("\nRatios:")
    report.ratio("P7 lifecycles/s (1 worker) / 150", one["rps"] / 150, 1)
    report.ratio("P7 250 ms / p99 (1 worker)", 250 / max(1e-9, one["p99_ms"] or 1e9), 1)
    report.ratio("P7 2 workers / 1 worker (lifecycles/s)", two["rps"] / max(1e-9, one["rps"]), 1.3)


async def test_script_lifecycles_against_bare_spawns(database_url: str, tmp_path: Path, report) -> None:
    async with running_service(database_url, tmp_path, PROCESSION_SCRIPT_CONCURRENCY=str(CONCURRENCY)) as service:
        scripts = run_tool(service, "lifecycles.py", "--kind", "script", "--base", service.base,
                           "--token", service.token, "--concurrency", str(CONCURRENCY))
        spawns = run_tool(service, "lifecycles.py", "--kind", "spawn", "--concurrency", str(CONCURRENCY))
    assert scripts["requests"] > 0 and spawns["requests"] > 0

    report.table(
        f"P7s: script lifecycles (start echo-params, wait until over) vs bare spawns, {CONCURRENCY} at a time",
        ["what", "count", "per s", "p50 ms", "p99 ms", "errors", "machine busy %"],
        [[name, r["requests"], r["rps"], r["p50_ms"], r["p99_ms"], r["errors"], f"{r['machine_busy_percent']:.0f}"]
         for name, r in (("script lifecycles", scripts), ("bare spawns", spawns))],
    )
    for sample in scripts["error_samples"]:
        print(f"  error sample: {sample}")
    print("\nRatio:")
    report.ratio("P7s script lifecycles / bare spawns", scripts["rps"] / spawns["rps"], 0.5)
