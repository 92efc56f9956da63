"""ws-gateway settings: the abuse limits are checked at start-up (by EdgeSettings)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ws_gateway.settings import Settings


def test_the_defaults_parse_and_read_as_rules() -> None:
    settings = Settings()
    assert settings.rule("vote_participant").limit == 20
    assert settings.rule("frames_connection").period_seconds == 10
    assert settings.trusted_networks == ()
    assert settings.origin_allowlist == []


@pytest.mark.parametrize(
    "bad",
    [
        {"rate_limit_join_ip": "many"},
        {"rate_limit_frames_connection": "10"},
        {"allowed_origins": "*"},
        {"allowed_origins": "vote.example.org"},
        {"trusted_proxies": "not-a-network"},
        {"poll_api_url": "ftp://poll-api"},
        {"environment": "production"},  # the development token secret
        # A gateway's alive key must outlive the heartbeat that refreshes it.
        {"presence_ttl_seconds": "1", "presence_interval_ms": "1000"},
    ],
)
def test_unsafe_or_malformed_values_are_refused(bad: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        Settings(**bad)


def test_lists_are_comma_separated() -> None:
    settings = Settings(
        allowed_origins="https://a.example, https://b.example:8443",
        trusted_proxies="10.0.0.0/8, 127.0.0.1",
    )
    assert settings.origin_allowlist == ["https://a.example", "https://b.example:8443"]
    assert len(settings.trusted_networks) == 2
