"""The gateway's Prometheus metrics (default registry, created once per process).

Tally push latency runs from the worker's publish (the message's x-occurred-at) to the frames
being handed to the screens' connections. It includes the broker hop and the coalescing wait
(`tally_interval_ms`), which is what a participant experiences.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from uuid import UUID

from prometheus_client import Counter, Gauge, Histogram

from contracts.base import HEADER_OCCURRED_AT
from zephyr_runtime.metrics import label_cache

CONNECTIONS = Gauge("zephyr_ws_gateway_connections", "WebSocket connections open now")
CONNECTIONS_TOTAL = Counter("zephyr_ws_gateway_connections_opened", "WebSocket connections opened")
FRAMES_IN = Counter("zephyr_ws_gateway_frames_received", "Client frames received", ["type"])
FRAMES_OUT = Counter("zephyr_ws_gateway_frames_sent", "Server frames sent", ["type"])
VOTES_ACCEPTED = Counter("zephyr_ws_gateway_votes_accepted", "Votes confirmed by the broker")
VOTES_REJECTED = Counter("zephyr_ws_gateway_votes_rejected", "Votes refused", ["code"])
VOTE_BATCH_SIZE = Histogram(
    "zephyr_ws_gateway_vote_batch_size",
    "Votes per flushed batch",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
)
PUBLISH_SECONDS = Histogram(
    "zephyr_ws_gateway_vote_publish_seconds",
    "Time from publishing a VoteBatch to the broker's confirm",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TALLY_BROADCASTS = Counter("zephyr_ws_gateway_tally_broadcasts", "Coalesced tally broadcasts")
TALLY_FRAMES = Counter(
    "zephyr_ws_gateway_tally_frames_delivered", "Tally frames handed to connections"
)
ERRORS_SENT = Counter("zephyr_ws_gateway_errors_sent", "Error frames sent", ["code"])
VOTES_BACKLOG = Gauge("zephyr_ws_gateway_votes_backlog", "Messages in the votes queue, last sample")
VOTES_IN_FLIGHT = Gauge("zephyr_ws_gateway_votes_in_flight", "Votes submitted and not yet answered")
# The children by label, looked up once: `.labels()` costs a lock and a tuple per call, and the
# vote path counts every frame.
frames_in = label_cache(FRAMES_IN)
frames_out = label_cache(FRAMES_OUT)
votes_rejected = label_cache(VOTES_REJECTED)
errors_sent = label_cache(ERRORS_SENT)

TALLY_PUSH_SECONDS = Histogram(
    "zephyr_ws_gateway_tally_push_latency_seconds",
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


def forget_tally(poll_id: UUID) -> None:
    _published_at.pop(poll_id, None)
