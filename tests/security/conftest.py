"""A full stack (audit-sink included) with tight abuse limits, plus a relaxed gateway to fuzz.

The tight gateway believes X-Forwarded-For from 127.0.0.1, so each simulated client can have an
address of its own while all traffic still comes from this machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import isolation
from tests.support.isolation import Resources
from tests.support.limits import RELAXED_LIMITS
from tests.support.procs import Stack, supervised

ALLOWED_ORIGIN = "https://vote.example.org"
VOTES_PER_PARTICIPANT = 5
JOINS_PER_IP = 10
FRAMES_PER_CONNECTION = 50
FLOOD_CLOSE_AFTER = 60
CONNECTIONS_PER_IP = 20

TIGHT_GATEWAY = {
    "WS_GATEWAY_TRUSTED_PROXIES": "127.0.0.1/32",
    "WS_GATEWAY_ALLOWED_ORIGINS": ALLOWED_ORIGIN,
    "WS_GATEWAY_MAX_CONNECTIONS_PER_IP": str(CONNECTIONS_PER_IP),
    "WS_GATEWAY_RATE_LIMIT_CONNECT_IP": "1000/10s",
    "WS_GATEWAY_RATE_LIMIT_JOIN_IP": f"{JOINS_PER_IP}/60s",
    "WS_GATEWAY_RATE_LIMIT_JOIN_ROOM": "1000/10s",
    "WS_GATEWAY_RATE_LIMIT_VOTE_IP": "1000/10s",
    "WS_GATEWAY_RATE_LIMIT_VOTE_PARTICIPANT": f"{VOTES_PER_PARTICIPANT}/60s",
    "WS_GATEWAY_RATE_LIMIT_FRAMES_CONNECTION": f"{FRAMES_PER_CONNECTION}/60s",
    "WS_GATEWAY_FLOOD_CLOSE_AFTER": str(FLOOD_CLOSE_AFTER),
    "WS_GATEWAY_SECURITY_EVENT_WINDOW_SECONDS": "2",
    "POLL_API_SECURITY_EVENT_WINDOW_SECONDS": "2",
}


@pytest.fixture(scope="package")
def sec_resources() -> Iterator[Resources]:
    with isolation.provisioned("sec") as res:
        yield res


@pytest.fixture(scope="package")
def sec_stack(
    sec_resources: Resources, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """poll-api (relaxed), vote-worker, audit-sink, `ws_gateway` (tight), `fuzz_gateway`."""
    log_dir: Path = tmp_path_factory.mktemp("security-logs")
    with supervised({**sec_resources.env(), **TIGHT_GATEWAY}, log_dir) as stack:
        stack.start_all()
        fuzz = stack.add(
            "fuzz_gateway",
            "ws_gateway",
            {**RELAXED_LIMITS, "WS_GATEWAY_POLL_API_URL": stack["poll_api"].url},
        )
        fuzz.start()
        fuzz.wait_ready()
        yield stack
