"""Settings: environment names, the edge validators inherited from EdgeSettings, host keys."""

from __future__ import annotations

import ipaddress

import pytest

from poll_api.settings import Settings
from zephyr_runtime.ratelimit import RateRule


def test_fields_read_their_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLL_API_RATE_LIMIT_CREATE_IP", "3/1m")
    monkeypatch.setenv("ZEPHYR_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")
    monkeypatch.setenv("POLL_API_CORS_ALLOW_ORIGINS", "https://host.example.org")
    monkeypatch.setenv("POLL_API_CSP_CONNECT_SRC", "wss://vote.example.org")
    settings = Settings()
    assert settings.rule("create_ip") == RateRule(3, 60.0)
    assert settings.rule("host_action_room") == RateRule(60, 60.0)  # the default
    assert settings.trusted_networks == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("127.0.0.1/32"),
    )
    assert settings.cors_origins == ["https://host.example.org"]
    assert settings.connect_sources == ["wss://vote.example.org"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rate_limit_read_ip", "lots"),
        ("rate_limit_ip", "0/1m"),
        ("trusted_proxies", "10.0.0.0/33"),
        ("cors_allow_origins", "*"),
        ("cors_allow_origins", "host.example.org"),
        ("public_base_url", "vote.example.org"),
    ],
)
def test_bad_values_are_refused(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=field):
        Settings(**{field: value})


def test_join_url_from_the_public_base_url() -> None:
    assert Settings(public_base_url="https://v.example.org/").join_url("ABCDEF") == (
        "https://v.example.org/join/ABCDEF"
    )
    assert Settings(public_base_url="").join_url("ABCDEF") is None
