"""poll-api's Prometheus metrics, on the process-wide default registry (defined once)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "poll_api_http_requests_total",
    "HTTP requests answered, by route template, method and status class.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "poll_api_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template, method and status class.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
POLLS_CREATED = Counter("poll_api_polls_created_total", "Polls created.")
POLL_TRANSITIONS = Counter(
    "poll_api_poll_transitions_total", "Successful host actions, by event.", ["event"]
)
OUTBOX_BACKLOG = Gauge(
    "poll_api_outbox_backlog", "Outbox rows not yet published (as last seen by this relay)."
)
OUTBOX_PUBLISHED = Counter(
    "poll_api_outbox_published_total", "Outbox rows published with a broker confirm."
)
OUTBOX_RELAY_FAILURES = Counter(
    "poll_api_outbox_relay_failures_total",
    "Relay passes that failed (broker or database unavailable, publish not confirmed).",
)
STATE_CACHE_WRITE_FAILURES = Counter(
    "poll_api_state_cache_write_failures_total", "Poll state writes to Redis that failed."
)
HTTP_TIMEOUTS = Counter(
    "zephyr_http_timeouts_total",
    "Requests answered 503 because a dependency timed out (pool wait, Redis, socket), by route.",
    ["route"],
)
POLLS_BY_STATUS = Gauge(
    "zephyr_polls", "Polls in the database by status (draft, open, closed).", ["status"]
)
OPEN_POLL_PARTICIPANTS = Gauge(
    "zephyr_open_poll_participants", "Participants who joined polls that are open now."
)
