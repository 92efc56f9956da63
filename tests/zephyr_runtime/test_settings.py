"""zephyr_runtime.settings: the shared loader and the EdgeSettings mixin's validation."""

from __future__ import annotations

import ipaddress

import pytest
from pydantic import Field, ValidationError
from pydantic_settings import SettingsConfigDict

from zephyr_runtime.ratelimit import RateRule
from zephyr_runtime.settings import EdgeSettings, load_settings


class DemoSettings(EdgeSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", extra="ignore", validate_default=True)

    rate_limit_vote_ip: str = Field(default="20/10s")
    allowed_origins: str = ""


def test_rules_networks_and_origins_are_read() -> None:
    settings = DemoSettings(
        rate_limit_vote_ip="600/1m",
        trusted_proxies="10.0.0.0/8, 127.0.0.1",
        allowed_origins="https://vote.example.org",
    )
    assert settings.rule("vote_ip") == RateRule(600, 60.0)
    assert settings.trusted_networks == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("127.0.0.1/32"),
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("rate_limit_vote_ip", "lots", "must look like 100/10s"),
        ("rate_limit_vote_ip", "5/10d", "ends in s, m or h"),
        ("allowed_origins", "*", "'*' is not accepted"),
        ("allowed_origins", "vote.example.org", "is not an origin"),
        ("trusted_proxies", "10.0.0.300/8", "does not appear to be an IPv4 or IPv6 network"),
    ],
)
def test_bad_values_are_refused_naming_the_field(field: str, value: str, message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        DemoSettings(**{field: value})
    errors = refused.value.errors()
    assert [e["loc"] for e in errors] == [(field,)]
    assert message in errors[0]["msg"]


def test_load_settings_exits_2_with_the_variable_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DEMO_RATE_LIMIT_VOTE_IP", "many")
    with pytest.raises(SystemExit) as exited:
        load_settings(DemoSettings)
    assert exited.value.code == 2
    assert "DEMO_RATE_LIMIT_VOTE_IP" in capsys.readouterr().err


def test_the_zephyr_prefix_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZEPHYR_RATE_LIMIT_VOTE_IP", "7/s")
    assert load_settings(DemoSettings).rule("vote_ip") == RateRule(7, 1.0)
    monkeypatch.setenv("DEMO_RATE_LIMIT_VOTE_IP", "9/s")
    assert load_settings(DemoSettings).rule("vote_ip") == RateRule(9, 1.0)
