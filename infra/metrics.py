"""Prometheus metrics: the families, the calls that record into them, and the scrape.

One process keeps its metrics in memory. Several processes of one service on one host
(`serve --workers N`, or processes sharing a directory) aggregate through prometheus-client's
multiprocess mode: each process writes its samples to files under PROMETHEUS_MULTIPROC_DIR
and the process that answers a scrape sums them. prometheus-client picks its mode from that
variable when a metric is first made, so the families are built on first use (after `serve`
had its chance to set the directory), not at import.

Facts that live in the database (projection and relay positions) are not counted here: the
caller reads them at scrape time and hands them to `exposition`, so every process reports
the same truth.
"""

from __future__ import annotations

import os
import resource
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess, values
from prometheus_client.core import GaugeMetricFamily, Metric

from infra.follower_lag import FollowerLag

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_BATCH = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
_RUNS = (0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600)


class _Families:
    """Every family the service records into; built once per process."""

    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.http = Histogram("procession_http_request_duration_seconds",
                              "HTTP requests by route template, method and status, with their latency",
                              ["route", "method", "status"], buckets=_LATENCY, registry=r)
        self.commands = Counter("procession_commands", "Commands run, by type and outcome",
                                ["command", "outcome"], registry=r)
        self.append_batch = Histogram("procession_event_store_append_batch_events",
                                      "Events written per event-store append batch", buckets=_BATCH, registry=r)
        self.append_seconds = Histogram("procession_event_store_append_seconds",
                                        "Time to write one append batch", buckets=_LATENCY, registry=r)
        self.relay_failures = Counter("procession_relay_publish_failures",
                                      "Failed attempts of the Kafka relay to publish", registry=r)
        self.relay_refusals = Counter("procession_relay_idempotence_refused",
                                      "Producers the Kafka relay started without idempotence: the broker refused a "
                                      "producer id", registry=r)
        self.relay_success = Gauge("procession_relay_last_success_timestamp_seconds",
                                   "When the Kafka relay last reached the broker (Unix time)",
                                   multiprocess_mode="max", registry=r)
        self.fires = Counter("procession_scheduler_fires", "Runs the scheduler started, by kind (scheduled, cron)",
                             ["kind"], registry=r)
        self.misses = Counter("procession_scheduler_missed_fires",
                              "Fire times that passed without a run of their own (collapsed or refused)",
                              ["kind"], registry=r)
        for kind in ("scheduled", "cron"):  # known label values start at zero, so alerts see them
            self.fires.labels(kind)
            self.misses.labels(kind)
        self.runs = Counter("procession_script_runs", "Script runs ended, by script and final status",
                            ["script", "status"], registry=r)
        self.run_seconds = Histogram("procession_script_run_duration_seconds", "How long script runs took",
                                     ["script", "status"], buckets=_RUNS, registry=r)
        self.pool = Gauge("procession_db_pool_connections", "Database pool connections by state (in_use, idle)",
                          ["state"], multiprocess_mode="livesum", registry=r)
        self.rss = Gauge("procession_process_resident_memory_bytes", "Resident memory of each service process",
                         multiprocess_mode="liveall", registry=r)
        self.fds = Gauge("procession_process_open_fds", "Open file descriptors of each service process",
                         multiprocess_mode="liveall", registry=r)


_registry = CollectorRegistry(auto_describe=True)
_families: _Families | None = None


def families() -> _Families:
    """The families of this process, built (in the mode the environment asks for) on first use."""
    global _families
    if _families is None:
        values.ValueClass = values.get_value_class()
        _families = _Families(_registry)
    return _families


def multiprocess_dir() -> Path | None:
    """Where the processes' sample files go, when several processes aggregate."""
    path = os.environ.get(MULTIPROC_ENV)
    return Path(path) if path else None


def prepare_multiprocess(directory: Path) -> Path:
    """Aggregate this process and the ones it starts next: an emptied directory, named in the env.

    Called by a parent before it starts its worker processes (and before any metric is made).
    """
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(directory)
    return directory


def process_exited() -> None:
    """Drop this process's live gauges (pool, memory) from the aggregate."""
    if (path := multiprocess_dir()) is not None and path.is_dir():
        multiprocess.mark_process_dead(os.getpid(), str(path))


# --- recording, called at the ports ---

def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    """One HTTP request served."""
    families().http.labels(route, method, str(status)).observe(seconds)


def count_command(command: str, outcome: str) -> None:
    """One command run: outcome is ok, duplicate, conflict, rejected or error."""
    families().commands.labels(command, outcome).inc()


def observe_append(events: int, seconds: float) -> None:
    """One append batch written to the event store."""
    f = families()
    f.append_batch.observe(events)
    f.append_seconds.observe(seconds)


def relay_failed() -> None:
    """The relay could not publish (broker away, refused, timed out)."""
    families().relay_failures.inc()


def relay_idempotence_refused() -> None:
    """The broker refused the relay's producer a producer id; it publishes without idempotence."""
    families().relay_refusals.inc()


def relay_succeeded() -> None:
    """The relay reached the broker (published, or found nothing to publish)."""
    families().relay_success.set(time.time())


def scheduler_fired(kind: str) -> None:
    """The scheduler started a run (`scheduled` or `cron`)."""
    families().fires.labels(kind).inc()


def scheduler_missed(kind: str, count: int = 1) -> None:
    """Fire times that got no run of their own."""
    if count > 0:
        families().misses.labels(kind).inc(count)


def script_finished(script: str, status: str, seconds: float) -> None:
    """A script run ended: completed, failed or stopped."""
    f = families()
    f.runs.labels(script, status).inc()
    f.run_seconds.labels(script, status).observe(seconds)


def sample_process(pool_size: int, pool_idle: int) -> None:
    """Record this process's pool use, memory and open files (at scrape, and now and then)."""
    f = families()
    f.pool.labels("in_use").set(pool_size - pool_idle)
    f.pool.labels("idle").set(pool_idle)
    rss, fds = _process_facts()
    f.rss.set(rss)
    if fds is not None:
        f.fds.set(fds)


def _process_facts() -> tuple[int, int | None]:
    try:
        with open("/proc/self/statm", "rb") as statm:
            rss = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        return rss, len(os.listdir("/proc/self/fd"))
    except OSError:  # no /proc: the peak, not the current size, is what the OS tells
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, None


# --- the scrape ---

def lag_families(projections: Iterable[FollowerLag], relay: FollowerLag | None) -> list[Metric]:
    """Gauges for the followers of the log, read from the database at scrape time."""
    position = GaugeMetricFamily("procession_projection_position", "Last event applied by each projection",
                                 labels=["projection"])
    events = GaugeMetricFamily("procession_projection_lag_events", "Events each projection has not applied yet",
                               labels=["projection"])
    seconds = GaugeMetricFamily("procession_projection_lag_seconds",
                                "Age of the oldest event each projection has not applied yet", labels=["projection"])
    for lag in projections:
        position.add_metric([lag.name], lag.position)
        events.add_metric([lag.name], lag.behind_events)
        seconds.add_metric([lag.name], lag.behind_seconds)
    found: list[Metric] = [position, events, seconds]
    if relay is not None:
        found += [
            GaugeMetricFamily("procession_relay_position", "Last event the broker acknowledged", value=relay.position),
            GaugeMetricFamily("procession_relay_lag_events", "Events not yet published", value=relay.behind_events),
            GaugeMetricFamily("procession_relay_lag_seconds", "Age of the oldest unpublished event",
                              value=relay.behind_seconds),
        ]
    return found


class _Fixed:
    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> list[Metric]:
        return self.metrics


def exposition(extra: list[Metric]) -> bytes:
    """The text exposition: every process's families (aggregated when several), then `extra`."""
    families()  # a scrape before any traffic still lists the families
    registry = CollectorRegistry(auto_describe=False)
    if (path := multiprocess_dir()) is not None:
        multiprocess.MultiProcessCollector(registry, str(path))
    else:
        registry.register(_Fixed(list(_registry.collect())))
    registry.register(_Fixed(extra))
    return generate_latest(registry)
