"""vote-worker's configuration: the shared fields plus batching, prefetch and reconciling."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from contracts.topology import DEFAULT_DELIVERY_LIMIT
from zephyr_runtime.batching import max_batch_setting, max_wait_setting, prefetch_setting
from zephyr_runtime.settings import ServiceSettings

SERVICE_NAME = "vote-worker"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="VOTE_WORKER_", extra="ignore", validate_default=True
    )

    port: int = Field(default=8002, ge=0, le=65535)
    batch_max_votes: int = max_batch_setting(1000, "votes")
    batch_max_wait_ms: float = max_wait_setting(5.0, "vote", most_ms=600_000)
    prefetch: int = prefetch_setting(200, "Unacked vote messages per worker")
    flush_overlap: int = Field(
        default=2,
        ge=1,
        le=8,
        description="Committed batches whose publishes and acks may overlap the next batch.",
    )
    reconcile_interval_s: float = Field(default=1.0, gt=0, le=3600)
    reconcile_window_hours: float = Field(
        default=24.0, gt=0, description="Tallies of polls active this recently are reconciled."
    )
    delivery_limit: int = Field(default=DEFAULT_DELIVERY_LIMIT, ge=1, le=1000)
    dead_letter_sample_s: float = Field(
        default=5.0, gt=0, le=3600, description="How often dead-letter queue depths are sampled."
    )
    db_pool_size: int = Field(default=5, ge=2, le=100)
    quiz_statement_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        le=600,
        description="Statement timeout of a quiz rescore's own connections (its wait for the "
        "poll's lock included): one scores a poll's players in ~1.5 s per 10,000, and replicas "
        "queue behind each other on that lock.",
    )
    tally_ttl_seconds: int = Field(
        default=30 * 24 * 3600, ge=60, description="Redis tally keys expire after this idle time."
    )
