"""poll-api's security settings (rate limits, proxies, CORS, headers, host accounts).

A base class of `Settings`, kept apart so the security knobs live in one place. Every field reads
`POLL_API_<FIELD>`, then `ZEPHYR_<FIELD>`; `host_api_keys` also from `POLL_API_HOST_API_KEYS_FILE`.
Lists are comma-separated. Rates are "<limit>/<period>", e.g. "600/1m" (see docs/security.md).
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from poll_api.host_keys import parse_host_keys
from zephyr_runtime.client_ip import Network, parse_networks
from zephyr_runtime.origins import check_origins, split_list
from zephyr_runtime.ratelimit import RateRule
from zephyr_runtime.settings import ServiceSettings


class HardeningSettings(ServiceSettings):
    trusted_proxies: str = Field(
        default="",
        description="Networks whose X-Forwarded-For is believed, e.g. 10.0.0.0/8,127.0.0.1",
    )
    # Rate limits, in Redis, shared by every replica. Per-IP limits are generous because a
    # whole conference may sit behind one NAT address; per-room limits are tight.
    rate_limit_enabled: bool = Field(default=True, description="Apply the rate limits below.")
    rate_limit_ip: str = Field(
        default="12000/1m", description="every /api request from one IP (limit/period)"
    )
    rate_limit_create_ip: str = Field(
        default="120/1m", description="POST /api/polls from one IP (limit/period)"
    )
    rate_limit_read_ip: str = Field(
        default="6000/1m", description="GET a poll or its results from one IP (limit/period)"
    )
    rate_limit_host_action_ip: str = Field(
        default="600/1m", description="open/close/reveal/reset from one IP (limit/period)"
    )
    rate_limit_host_action_room: str = Field(
        default="60/1m", description="open/close/reveal/reset of one poll (limit/period)"
    )
    max_body_bytes: int = Field(default=32_768, ge=1024, le=10_485_760)
    max_concurrent_requests: int = Field(
        default=256, ge=1, description="Requests in progress per process; beyond: 503."
    )
    cors_allow_origins: str = Field(default="", description="Origins allowed by CORS (no '*')")
    served_over_tls: bool = Field(
        default=False, description="Behind a TLS-terminating proxy: send HSTS."
    )
    hsts_max_age_seconds: int = Field(default=31_536_000, ge=0)
    csp_connect_src: str = Field(
        default="", description="Extra CSP connect-src sources, e.g. the gateway's wss:// origin"
    )
    host_auth_enabled: bool = Field(
        default=False, description="Creating a poll needs Authorization: Bearer <host API key>."
    )
    host_api_keys: str = Field(default="", repr=False, description="Comma/newline-separated")
    security_event_window_seconds: float = Field(default=10.0, gt=0, le=3600)

    @field_validator(
        "rate_limit_ip",
        "rate_limit_create_ip",
        "rate_limit_read_ip",
        "rate_limit_host_action_ip",
        "rate_limit_host_action_room",
    )
    @classmethod
    def _rate(cls, value: str) -> str:
        RateRule.parse(value)
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(split_list(value))
        return value

    @field_validator("cors_allow_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        return check_origins(value)

    @model_validator(mode="after")
    def _host_keys(self) -> HardeningSettings:
        if self.host_auth_enabled and not parse_host_keys(self.host_api_keys):
            raise ValueError("host_auth_enabled needs host_api_keys (or HOST_API_KEYS_FILE)")
        return self

    @property
    def trusted_networks(self) -> tuple[Network, ...]:
        return parse_networks(split_list(self.trusted_proxies))

    @property
    def cors_origins(self) -> list[str]:
        return split_list(self.cors_allow_origins)

    @property
    def connect_sources(self) -> list[str]:
        return split_list(self.csp_connect_src)

    def rule(self, name: str) -> RateRule:
        return RateRule.parse(str(getattr(self, f"rate_limit_{name}")))
