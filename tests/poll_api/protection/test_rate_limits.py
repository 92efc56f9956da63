"""Which rate-limit rules a request must pass (the limiter itself: tests/security/test_units.py)."""

from __future__ import annotations

import pytest

from poll_api.protection.rate_limits import classify
from poll_api.settings import Settings

IP = "192.0.2.1"


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings()


@pytest.mark.parametrize(
    ("method", "path", "scopes"),
    [
        ("GET", "/health/ready", []),
        ("GET", "/metrics", []),
        ("POST", "/api/polls", ["ip", "create_ip"]),
        ("POST", "/api/polls/", ["ip", "create_ip"]),
        ("GET", "/api/polls/ABCDEF", ["ip", "read_ip"]),
        ("HEAD", "/api/polls/ABCDEF/results.csv", ["ip", "read_ip"]),
        ("POST", "/api/polls/ABCDEF/close", ["ip", "host_action_ip", "host_action_room"]),
        ("POST", "/api/polls/ABCDEF/questions", ["ip", "host_action_ip", "host_action_room"]),
        ("PATCH", "/api/polls/ABCDEF/questions/2", ["ip", "host_action_ip", "host_action_room"]),
        ("DELETE", "/api/polls/ABCDEF/questions/2", ["ip", "host_action_ip", "host_action_room"]),
        (
            "POST",
            "/api/polls/ABCDEF/questions/2/show",
            ["ip", "host_action_ip", "host_action_room"],
        ),
        (
            "POST",
            "/api/polls/ABCDEF/questions/2/move",
            ["ip", "host_action_ip", "host_action_room"],
        ),
        ("GET", "/api/polls/ABCDEF/questions", ["ip", "read_ip"]),
        ("GET", "/api/polls/ABCDEF/questions/2/results", ["ip", "read_ip"]),
        ("GET", "/api/polls/ABCDEF/leaderboard", ["ip", "read_ip"]),
        ("GET", "/api/polls/ABCDEF/leaderboard.csv", ["ip", "read_ip"]),
        ("GET", "/host", ["ip"]),
        ("DELETE", "/api/polls/ABCDEF", ["ip", "host_action_ip", "host_action_room"]),
        ("POST", "/api/polls/ABCDEF/qa/x/approve", ["ip", "host_action_ip", "host_action_room"]),
        (
            "POST",
            "/api/polls/ABCDEF/questions/0/words/hide",
            ["ip", "host_action_ip", "host_action_room"],
        ),
        ("POST", "/api/polls/ABCDEF/host-links", ["ip", "host_action_ip", "host_action_room"]),
        ("DELETE", "/api/polls/ABCDEF/host-links/x", ["ip", "host_action_ip", "host_action_room"]),
        ("POST", "/api/polls/ABCDEF/claim", ["ip", "host_action_ip", "host_action_room"]),
        (
            "POST",
            "/api/polls/ABCDEF/duplicate",
            ["ip", "create_ip", "host_action_ip", "host_action_room"],
        ),
        ("POST", "/api/auth/login", ["ip", "login_ip"]),
        ("POST", "/api/auth/refresh", ["ip"]),
    ],
)
def test_requests_are_classified(
    settings: Settings, method: str, path: str, scopes: list[str]
) -> None:
    assert [check.scope for check in classify(settings, method, path, IP)] == scopes


def test_host_actions_are_counted_per_room_and_malformed_codes_share_one_budget(
    settings: Settings,
) -> None:
    def room(path: str) -> str:
        return classify(settings, "POST", path, IP)[-1].subject

    assert room("/api/polls/abcdef/open") == room("/api/polls/ABCDEF/reset") == "ABCDEF"
    assert room("/api/polls/nope/open") == room("/api/polls/%27--/open") == "invalid"
