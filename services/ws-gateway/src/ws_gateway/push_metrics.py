"""Tally push latency: from the worker's publish (the message's x-occurred-at) to the frames
being handed to the screens' connections. It includes the broker hop and the coalescing wait
(`tally_interval_ms`), which is what a participant experiences."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from uuid import UUID

from prometheus_client import Histogram

from contracts.base import HEADER_OCCURRED_AT

TALLY_PUSH_SECONDS = Histogram(
    "zephyr_ws_tally_push_latency_seconds",
    "From the worker publishing a TallyUpdated to the gateway broadcasting it to the screens.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5, 5, 10),
)

# poll id -> wall-clock time the newest unbroadcast tally was published (else received).
_published_at: dict[UUID, float] = {}


def occurred_at(headers: dict[str, Any] | None) -> float:
    """The message's x-occurred-at as a UNIX time; now when it is missing or unreadable."""
    raw = (headers or {}).get(HEADER_OCCURRED_AT)
    if isinstance(raw, bytes):
        raw = raw.decode(errors="replace")
    if isinstance(raw, str):
        try:
            return datetime.fromisoformat(raw).timestamp()
        except ValueError:
            pass
    return time.time()


def tally_received(poll_id: UUID, published_at: float) -> None:
    # Coalescing keeps the oldest waiting time: the screens were behind since that tally.
    _published_at.setdefault(poll_id, published_at)


def tally_pushed(poll_id: UUID) -> None:
    published = _published_at.pop(poll_id, None)
    if published is not None:
        TALLY_PUSH_SECONDS.observe(max(0.0, time.time() - published))


def forget(poll_id: UUID) -> None:
    _published_at.pop(poll_id, None)
