"""The one settings object, read from the environment (and CLI options that override it)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the service can be configured with; each field is also an env variable."""

    model_config = SettingsConfigDict(env_prefix="PROCESSION_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path(".procession")
    # Any PostgreSQL; unset means the embedded server under data_dir.
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "PROCESSION_DATABASE_URL")
    )
    pool_size: int = 10
    # Caps enforced before a body is parsed.
    max_body_bytes: int = 1_048_576
    max_workflow_bytes: int = 1_048_576
    # How long a command waits for its own projections before answering (read-your-writes).
    consistency_timeout_seconds: float = 5.0
    log_requests: bool = True
    # What `GET /api/process` reports as the build (set by packaging or CI).
    build: str = "dev"
    # Kafka: brokers to publish every event to ("embedded" starts the bundled Tansu broker).
    kafka_bootstrap_servers: str | None = Field(
        default=None,
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "PROCESSION_KAFKA_BOOTSTRAP_SERVERS"),
    )
    kafka_topic_prefix: str = "procession"
    # Topics the relay creates (one per aggregate type, when missing) get this many partitions
    # and replicas; existing topics are left as they are. Events are keyed by aggregate id, so
    # each aggregate's events stay in order on one partition whatever the count.
    kafka_partitions: int = Field(default=1, ge=1)
    kafka_replication_factor: int = Field(default=1, ge=1)
    # Events per relay batch: a crash or a broker failure repeats at most this many.
    kafka_batch: int = Field(default=500, ge=1)
    # Ask the broker for a producer id (the idempotent producer). A broker that refuses one
    # (the embedded Tansu refuses aiokafka's InitProducerId) gets plain acks=all publishing,
    # with a warning in the log, a metric and /readyz.
    kafka_idempotent: bool = True
    kafka_source: str = "/procession"
    # Concord uploads: a ZIP or multipart body is streamed against its own cap (not max_body_bytes),
    # then an archive is opened only under these caps (a zip bomb stops at the first).
    max_upload_bytes: int = 16 * 1_048_576
    max_form_parts: int = 100
    max_archive_entries: int = 1000
    max_archive_unpacked_bytes: int = 64 * 1_048_576
    max_archive_ratio: int = 100
    # The longest a request waits for a process (`sync=true`, `waitForCompletion`); then 408.
    max_wait_seconds: float = 30.0
    # Scripts: an operator's extra descriptors (TOML) beside the shipped ones; runs per process.
    scripts_dir: Path | None = None
    script_concurrency: int = 4
    # A run's claim expires this long after its worker's last heartbeat; then the run is failed.
    script_lease_seconds: float = 10.0
    # After SIGTERM a stopped script gets this long before SIGKILL (a part of the shutdown budget).
    script_stop_grace_seconds: float = Field(default=5.0, ge=0)
    max_script_files: int = 100
    # Any one stored file (an input or an output of a script).
    max_blob_bytes: int = 256 * 1_048_576
    # How often the scheduler looks for due starts and cron fires (it also wakes on appends).
    scheduler_poll_seconds: float = 1.0
    # Concord projects (issue 10): steps one process may run in all (an endless loop fails the
    # process when it runs out), calls nested at most, items of one loop, bytes of one project.
    concord_step_budget: int = 10_000
    concord_max_call_depth: int = 100
    concord_max_loop_items: int = 10_000
    # Run the script worker and the scheduler inside `serve` (off for a read-only replica).
    run_workers: bool = True
    # Portal (issue 11): a browser session ends after this long without a request.
    portal_session_idle_seconds: float = 8 * 3600
    # Operations: logs, metrics, readiness and shutdown.
    # DEBUG, INFO, WARNING or ERROR; the embedded database's own lines show only at DEBUG.
    log_level: str = "INFO"
    # A bearer token that may read /metrics besides admin tokens (for a scraper holding no API token).
    metrics_token: str | None = None
    # /readyz answers 503 when a projection's oldest unapplied event is older than this...
    ready_projection_lag_seconds: float = 30.0
    # ...or the Kafka relay has been failing, or stuck with events waiting, longer than this.
    ready_relay_failure_seconds: float = 30.0
    # Shutdown (issue 22): one budget, from SIGTERM/SIGINT to the exit; keep it under the
    # platform's kill deadline (Kubernetes and compose: 30 s, `docker stop`: 10 s). Its parts:
    # running scripts and in-flight requests get the grace (unset: what the budget leaves); a
    # script still running then gets SIGTERM and, script_stop_grace_seconds later, SIGKILL; the
    # reserve is for the rest (recording the stopped runs, leases, the relay, the pool, the
    # embedded database). A process still there at the budget's end exits at once.
    shutdown_timeout_seconds: float = Field(default=20.0, gt=0)
    shutdown_grace_seconds: float | None = Field(default=None, ge=0)
    shutdown_reserve_seconds: float = Field(default=5.0, gt=0)
    # Tokens (issue 9): how long a process trusts a token it looked up. Revocations reach every
    # process at once through the database's notifications; this only bounds a missed one.
    token_cache_seconds: float = 30.0
    # Scale-out (several processes on one database): how long a singleton job's lease (the
    # projections' follower, the Kafka relay, the scheduler) outlives its holder's last renewal before another process
    # takes the job over. Holders renew every third of it.
    singleton_lease_seconds: float = 10.0
    # The in-memory aggregate cache, per process: bounded by the events folded into the
    # cached states (a proxy for their size) and by the number of aggregates.
    aggregate_cache_events: int = 200_000
    aggregate_cache_aggregates: int = 4096

    @model_validator(mode="after")
    def _shutdown_fits_its_budget(self) -> Settings:
        # Refused at start: a configuration whose parts overrun the budget would be killed
        # half-way by the platform (or by the process's own deadline) on every stop.
        grace = self.shutdown_grace_seconds or 0.0
        stop, reserve, budget = self.script_stop_grace_seconds, self.shutdown_reserve_seconds, self.shutdown_timeout_seconds
        if grace + stop + reserve > budget:
            given = "" if self.shutdown_grace_seconds is None else f"grace {grace:g} s (PROCESSION_SHUTDOWN_GRACE_SECONDS) + "
            raise ValueError(
                f"the shutdown's parts overrun its budget: {given}script stop grace {stop:g} s"
                f" (PROCESSION_SCRIPT_STOP_GRACE_SECONDS) + reserve {reserve:g} s"
                f" (PROCESSION_SHUTDOWN_RESERVE_SECONDS) = {grace + stop + reserve:g} s"
                f" > PROCESSION_SHUTDOWN_TIMEOUT_SECONDS {budget:g} s"
            )
        return self

    @property
    def shutdown_grace(self) -> float:
        """What running scripts and in-flight requests get after SIGTERM: the setting, or what the budget leaves."""
        if self.shutdown_grace_seconds is not None:
            return self.shutdown_grace_seconds
        return max(0.0, self.shutdown_timeout_seconds - self.script_stop_grace_seconds - self.shutdown_reserve_seconds)
