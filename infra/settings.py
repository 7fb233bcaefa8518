"""The one settings object, read from the environment (and CLI options that override it)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
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
    # The embedded Tansu broker (memory storage) does not grant producer ids, so the
    # idempotent producer is switched off for it; real brokers keep it on.
    kafka_idempotent: bool = True
    kafka_source: str = "/procession"
