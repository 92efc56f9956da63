"""poll-api settings: the shared fields plus what only poll-api needs."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from poll_api.hardening_config import HardeningSettings


class Settings(HardeningSettings):
    """Read from `POLL_API_<FIELD>`, then `ZEPHYR_<FIELD>`; `<NAME>_FILE` for secrets."""

    model_config = SettingsConfigDict(env_prefix="POLL_API_", extra="ignore", validate_default=True)

    default_expiry_days: int = Field(default=30, ge=1, le=3650)
    # The gateway serves the participant page; the default is where `make run` puts it.
    public_base_url: str | None = Field(
        default="http://127.0.0.1:8001",
        description="Where participants join (the gateway's page), e.g. https://vote.example.org",
    )
    relay_enabled: bool = Field(
        default=True, description="Run the outbox relay in this process (replicas may share it)."
    )
    relay_batch_size: int = Field(default=200, ge=1, le=1000)
    relay_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    relay_max_backoff_seconds: float = Field(default=5.0, gt=0, le=300)
    reconcile_interval_seconds: float = Field(default=2.0, gt=0, le=600)
    reconcile_window_hours: int = Field(default=24, ge=1, le=24 * 365)
    breaker_failures: int = Field(default=3, ge=1, le=100)
    breaker_reset_seconds: float = Field(default=2.0, gt=0, le=300)
    redis_timeout_seconds: float = Field(default=1.0, gt=0, le=30)
    db_pool_size: int = Field(default=10, ge=1, le=200)

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("public_base_url must start with http:// or https://")
        return value.rstrip("/")

    def join_url(self, room_code: str) -> str | None:
        """The link a host shares with participants, when a public base URL is configured."""
        if self.public_base_url is None:
            return None
        return f"{self.public_base_url}/join/{room_code}"
