"""ws-gateway's security settings: origins, proxies, connection caps and rate limits.

A base class of `Settings`. Lists are comma-separated; rates are "<limit>/<period>", e.g.
"20/10s" (a burst of 20, then one every half second). See docs/security.md for the reasoning
behind each default: per-IP limits are generous (a conference may share one NAT address),
per-participant and per-connection limits are tight.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from zephyr_runtime.client_ip import Network, parse_networks
from zephyr_runtime.origins import check_origins, split_list
from zephyr_runtime.ratelimit import RateRule
from zephyr_runtime.settings import ServiceSettings


class GatewaySecuritySettings(ServiceSettings):
    allowed_origins: str = Field(
        default="",
        description="Browser origins allowed to open a WebSocket, besides the gateway's own "
        "and poll-api's (e.g. https://vote.example.org)",
    )
    allow_missing_origin: bool = Field(
        default=True, description="Accept handshakes without Origin (non-browser clients)."
    )
    trusted_proxies: str = Field(
        default="", description="Networks whose X-Forwarded-For is believed"
    )
    max_connections_per_ip: int = Field(default=5000, ge=1)
    rate_limit_enabled: bool = Field(default=True, description="Apply the rate limits below.")
    rate_limit_connect_ip: str = Field(
        default="3000/10s", description="WebSocket handshakes from one IP (limit/period)"
    )
    rate_limit_join_ip: str = Field(
        default="1000/10s", description="joins from one IP (limit/period)"
    )
    rate_limit_join_room: str = Field(
        default="5000/10s", description="joins into one poll (limit/period)"
    )
    rate_limit_vote_ip: str = Field(
        default="20000/10s", description="votes from one IP (limit/period)"
    )
    rate_limit_vote_participant: str = Field(
        default="20/10s", description="votes of one participant, on any gateway (limit/period)"
    )
    rate_limit_frames_connection: str = Field(
        default="60/10s", description="any frames on one connection (in memory) (limit/period)"
    )
    flood_close_after: int = Field(
        default=100, ge=1, description="Refused frames in a row before closing with 1008."
    )
    security_event_window_seconds: float = Field(default=10.0, gt=0, le=3600)

    @field_validator(
        "rate_limit_connect_ip",
        "rate_limit_join_ip",
        "rate_limit_join_room",
        "rate_limit_vote_ip",
        "rate_limit_vote_participant",
        "rate_limit_frames_connection",
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

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        return check_origins(value)

    @property
    def trusted_networks(self) -> tuple[Network, ...]:
        return parse_networks(split_list(self.trusted_proxies))

    @property
    def origin_allowlist(self) -> list[str]:
        return split_list(self.allowed_origins)

    def rule(self, name: str) -> RateRule:
        return RateRule.parse(str(getattr(self, f"rate_limit_{name}")))
