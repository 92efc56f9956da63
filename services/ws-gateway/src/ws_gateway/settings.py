"""ws-gateway configuration: `WS_GATEWAY_<FIELD>`, then `ZEPHYR_<FIELD>`.

The abuse limits (origins, proxies, connections per IP, rate rules) are explained in
docs/security.md: per-IP limits are generous (a conference may share one NAT address),
per-participant and per-connection limits are tight. Lists are comma-separated; rates are
"<limit>/<period>", e.g. "20/10s" (a burst of 20, then one every half second). `EdgeSettings`
checks every rate rule, origin list and `trusted_proxies` at start-up.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from contracts.votes import MAX_VOTES_PER_BATCH
from zephyr_runtime.origins import split_list
from zephyr_runtime.settings import DEV_SECRET, EdgeSettings, require_secret


def _rate(default: str, what: str) -> Any:
    """A `rate_limit_<name>` field: "<limit>/<period>" (EdgeSettings parses it at start-up)."""
    return Field(default=default, description=f"{what} (limit/period)")


class Settings(EdgeSettings):
    model_config = SettingsConfigDict(
        env_prefix="WS_GATEWAY_", extra="ignore", validate_default=True
    )

    # ---- abuse protection (ws_gateway.admission, ws_gateway.limits) -----------------------
    allowed_origins: str = Field(
        default="",
        description="Browser origins allowed to open a WebSocket, besides the gateway's own "
        "and poll-api's (e.g. https://vote.example.org)",
    )
    allow_missing_origin: bool = Field(
        default=True, description="Accept handshakes without Origin (non-browser clients)."
    )
    max_connections_per_ip: int = Field(default=5000, ge=1)
    rate_limit_connect_ip: str = _rate("3000/10s", "WebSocket handshakes from one IP")
    rate_limit_join_ip: str = _rate("1000/10s", "joins from one IP")
    # A keynote: 10,000 phones join one poll within 5 s (docs/performance.md, "join storm").
    rate_limit_join_room: str = _rate("20000/10s", "joins into one poll")
    rate_limit_vote_ip: str = _rate("20000/10s", "votes from one IP")
    rate_limit_vote_participant: str = _rate("20/10s", "votes of one participant, on any gateway")
    rate_limit_qa_ask: str = _rate("5/60s", "Q&A questions asked by one participant")
    rate_limit_qa_upvote: str = _rate("30/10s", "Q&A upvotes of one participant")
    rate_limit_frames_connection: str = _rate("60/10s", "any frames on one connection (in memory)")
    flood_close_after: int = Field(
        default=100, ge=1, description="Refused frames in a row before closing with 1008."
    )

    # ---- the service ----------------------------------------------------------------------
    port: int = Field(default=8001, ge=0, le=65535)
    listen_backlog: int = Field(
        default=4096,
        ge=1,
        le=65535,
        description="Connections the kernel queues before the gateway accepts them (capped by "
        "net.core.somaxconn). A QR code on a screen is a connect storm: with asyncio's default "
        "of 100 a full queue drops SYNs and the phones retry after 1, 3, 7 s.",
    )
    poll_api_url: str = "http://127.0.0.1:8000"
    poll_api_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    # Signs resume tokens; every gateway replica must share it.
    token_secret: str = DEV_SECRET

    # ---- votes ------------------------------------------------------------------------------
    vote_batch_max: int = Field(default=500, ge=1, le=MAX_VOTES_PER_BATCH)
    vote_batch_wait_ms: float = Field(default=2.0, ge=0, le=1000)
    max_pending_votes: int = Field(default=20_000, ge=1)
    # Votes one connection may have waiting for their confirm before it is rate limited.
    max_votes_in_flight_per_connection: int = Field(default=64, ge=1)
    publish_timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    # Load shedding and circuit breakers (ws_gateway.guard; docs/reliability.md).
    shed_votes_backlog: int = Field(default=20_000, ge=1, description="votes queue messages")
    shed_votes_in_flight: int = Field(default=20_000, ge=1)
    guard_sample_ms: int = Field(default=500, ge=50, le=60_000)
    breaker_failures: int = Field(default=2, ge=1, le=100)
    breaker_reset_seconds: float = Field(default=1.0, gt=0, le=300)

    tally_interval_ms: int = Field(default=75, ge=10, le=10_000)
    # Tally frames per second one process may push (adaptive interval; docs/performance.md).
    tally_frame_budget: int = Field(default=20_000, ge=100)
    # VoteBatches waiting for their confirm at once (ws_gateway.confirms); 1 = one at a time.
    vote_publish_depth: int = Field(default=4, ge=1, le=64)
    # Redis connections per process; a join storm waits for one instead of failing.
    redis_max_connections: int = Field(default=64, ge=2, le=10_000)

    # ---- host connections and presence (ws_gateway.hosts, ws_gateway.presence) -----------
    host_auth_timeout_seconds: float = Field(
        default=5.0, gt=0, le=60, description="Time a host socket has to send its `host` frame."
    )
    host_recheck_seconds: float = Field(
        default=60.0, gt=0, le=3600, description="How often a host socket's token is re-checked."
    )
    host_push_interval_ms: int = Field(
        default=250, ge=10, le=10_000, description="Tallies and boards to host sockets, coalesced."
    )
    presence_interval_ms: int = Field(
        default=1000, ge=50, le=60_000, description="Presence heartbeat and push interval."
    )
    presence_ttl_seconds: float = Field(
        default=3.0, gt=0, le=600, description="A gateway silent this long no longer counts."
    )

    ping_interval: float = Field(default=20.0, gt=0)
    ping_timeout: float = Field(default=20.0, gt=0)
    idle_timeout_seconds: float = Field(default=600.0, gt=0)
    max_connections: int = Field(default=20_000, ge=1)

    @model_validator(mode="after")
    def _secret(self) -> Settings:
        require_secret(self.token_secret, "WS_GATEWAY_TOKEN_SECRET", self.environment)
        if self.presence_ttl_seconds * 1000 <= self.presence_interval_ms:
            raise ValueError("presence_ttl_seconds must be longer than presence_interval_ms")
        if not self.poll_api_url.startswith(("http://", "https://")):
            raise ValueError("poll_api_url must start with http:// or https://")
        return self

    @property
    def origin_allowlist(self) -> list[str]:
        return split_list(self.allowed_origins)
