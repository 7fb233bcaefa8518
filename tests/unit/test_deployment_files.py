"""The deployment files the operations guide uses: compose.yaml, Dockerfile and the example alert rules.

Containers cannot run here, so their syntax and wiring are checked instead.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from infra import metrics
from infra.follower_lag import FollowerLag
from services.console.common import settings_of

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_runs_two_service_processes_on_postgres_and_kafka_with_healthchecks():
    services = compose()["services"]
    assert {"postgres", "kafka", "migrate", "procession-1", "procession-2"} <= set(services)
    for name in ("postgres", "kafka", "procession-1", "procession-2"):
        check = services[name]["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) > 1, name
    for name in ("procession-1", "procession-2"):
        service = services[name]
        env = service["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in env["DATABASE_URL"]
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert service["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert "/readyz" in " ".join(service["healthcheck"]["test"])
        assert "procession-data:/data" in service["volumes"]  # stored files are shared
        budget = float(env["PROCESSION_SHUTDOWN_TIMEOUT_SECONDS"])
        assert int(service["stop_grace_period"].removesuffix("s")) > budget  # gone before Docker's SIGKILL
    assert services["migrate"]["command"] == ["db", "migrate"]
    ports = {p for n in ("procession-1", "procession-2") for p in services[n]["ports"]}
    assert len(ports) == 2
    assert set(compose()["volumes"]) == {"postgres-data", "kafka-data", "procession-data"}


def test_compose_settings_are_settings_the_service_reads(monkeypatch):
    env = compose()["services"]["procession-1"]["environment"]
    settings = settings_of.__globals__["Settings"]
    known = {f"PROCESSION_{name.upper()}" for name in settings.model_fields}
    known |= {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"}
    assert set(env) <= known
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings()  # accepted as a whole (the shutdown's parts fit its budget, say)


def test_dockerfile_copies_what_exists_and_runs_the_cli():
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    assert lines[[i for i, line in enumerate(lines) if line and not line.startswith("#")][0]].startswith("FROM python:3.1")
    for line in lines:
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
    assert 'ENTRYPOINT ["procession"]' in lines and 'CMD ["serve"]' in lines
    assert "STOPSIGNAL SIGTERM" in lines
    assert any(line.startswith("USER ") and "root" not in line for line in lines)


def test_the_guides_alert_rules_parse_and_name_metrics_the_service_exports():
    guide = (ROOT / "docs/operations.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", guide, re.S).group(1)
    rules = yaml.safe_load(block)["groups"][0]["rules"]
    assert {r["alert"] for r in rules} >= {"ProcessionProjectionLagging", "ProcessionRelayFailing",
                                           "ProcessionRunsFailing"}
    lag = FollowerLag("definitions", 1, 0, 0.0)
    exported = {s.name for family in text_string_to_metric_families(
        metrics.exposition(metrics.lag_families([lag], lag)).decode()) for s in family.samples}
    metrics.families()
    suffixes = {"counter": ("_total",), "histogram": ("_count", "_sum", "_bucket"), "gauge": ("",)}
    exported |= {m.name + s for m in metrics._registry.collect() for s in suffixes[m.type]}
    for rule in rules:
        named = set(re.findall(r"procession_[a-z_]+", rule["expr"]))
        assert named and named <= exported, (rule["alert"], named - exported)
