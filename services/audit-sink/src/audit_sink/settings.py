"""audit-sink's configuration: `AUDIT_SINK_<FIELD>`, then `ZEPHYR_<FIELD>`."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from zephyr_runtime.batching import max_batch_setting, max_wait_setting, prefetch_setting
from zephyr_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="AUDIT_SINK_", extra="ignore", validate_default=True
    )

    port: int = Field(default=8003, ge=0, le=65535, description="Port of the HTTP server.")
    batch_max_events: int = max_batch_setting(2000, "events")
    batch_max_wait_ms: float = max_wait_setting(20.0, "event", most_ms=60_000)
    prefetch: int = prefetch_setting(500, "Unacked audit messages per process")
    # The backoff between failed flushes: from the base, doubling, jittered, up to the cap.
    retry_base_seconds: float = Field(
        default=0.1, gt=0, le=5, description="First delay before retrying a failed flush."
    )
    retry_max_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="Cap of the exponential backoff (with jitter) between failed flushes.",
    )
    db_pool_max_size: int = Field(
        default=4, ge=1, le=100, description="Most PostgreSQL connections (opened lazily)."
    )
