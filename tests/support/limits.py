"""Relaxed abuse limits for test stacks that run many participants from 127.0.0.1.

Every test stack (e2e, fault, bench) sends all its traffic from one address, so the per-IP and
per-participant limits that protect a real deployment would throttle it. `Stack` passes these
under every service's own environment; tests/security starts its own stack with tight limits.
"""

from __future__ import annotations

_HUGE = "100000000/1s"

RELAXED_LIMITS: dict[str, str] = {
    "POLL_API_RATE_LIMIT_IP": _HUGE,
    "POLL_API_RATE_LIMIT_CREATE_IP": _HUGE,
    "POLL_API_RATE_LIMIT_READ_IP": _HUGE,
    "POLL_API_RATE_LIMIT_HOST_ACTION_IP": _HUGE,
    "POLL_API_RATE_LIMIT_HOST_ACTION_ROOM": _HUGE,
    "WS_GATEWAY_MAX_CONNECTIONS_PER_IP": "1000000",
    "WS_GATEWAY_RATE_LIMIT_CONNECT_IP": _HUGE,
    "WS_GATEWAY_RATE_LIMIT_JOIN_IP": _HUGE,
    "WS_GATEWAY_RATE_LIMIT_JOIN_ROOM": _HUGE,
    "WS_GATEWAY_RATE_LIMIT_VOTE_IP": _HUGE,
    "WS_GATEWAY_RATE_LIMIT_VOTE_PARTICIPANT": _HUGE,
    "WS_GATEWAY_RATE_LIMIT_FRAMES_CONNECTION": _HUGE,
}
