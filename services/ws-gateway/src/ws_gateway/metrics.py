"""The gateway's Prometheus metrics (default registry, created once per process)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CONNECTIONS = Gauge("ws_gateway_connections", "WebSocket connections open now")
CONNECTIONS_TOTAL = Counter("ws_gateway_connections_opened", "WebSocket connections opened")
FRAMES_IN = Counter("ws_gateway_frames_received", "Client frames received", ["type"])
FRAMES_OUT = Counter("ws_gateway_frames_sent", "Server frames sent", ["type"])
VOTES_ACCEPTED = Counter("ws_gateway_votes_accepted", "Votes confirmed by the broker")
VOTES_REJECTED = Counter("ws_gateway_votes_rejected", "Votes refused", ["code"])
VOTE_BATCH_SIZE = Histogram(
    "ws_gateway_vote_batch_size",
    "Votes per flushed batch",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
)
PUBLISH_SECONDS = Histogram(
    "ws_gateway_vote_publish_seconds",
    "Time from publishing a VoteBatch to the broker's confirm",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TALLY_BROADCASTS = Counter("ws_gateway_tally_broadcasts", "Coalesced tally broadcasts")
TALLY_FRAMES = Counter("ws_gateway_tally_frames_delivered", "Tally frames handed to connections")
ERRORS_SENT = Counter("ws_gateway_errors_sent", "Error frames sent", ["code"])
