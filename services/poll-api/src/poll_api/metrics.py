"""poll-api's Prometheus metrics, on the process-wide default registry (defined once)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

HTTP_REQUESTS = Counter(
    "zephyr_poll_api_http_requests_total",
    "HTTP requests answered, by route template, method and status class.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "zephyr_poll_api_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template, method and status class.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
POLLS_CREATED = Counter("zephyr_poll_api_polls_created_total", "Polls created.")
POLL_TRANSITIONS = Counter(
    "zephyr_poll_api_poll_transitions_total", "Successful host actions, by event.", ["event"]
)
OUTBOX_BACKLOG = Gauge(
    "zephyr_poll_api_outbox_backlog", "Outbox rows not yet published (as last seen by this relay)."
)
OUTBOX_PUBLISHED = Counter(
    "zephyr_poll_api_outbox_published_total", "Outbox rows published with a broker confirm."
)
OUTBOX_RELAY_FAILURES = Counter(
    "zephyr_poll_api_outbox_relay_failures_total",
    "Relay passes that failed (broker or database unavailable, publish not confirmed).",
)
STATE_CACHE_WRITE_FAILURES = Counter(
    "zephyr_poll_api_state_cache_write_failures_total", "Poll state writes to Redis that failed."
)
HTTP_TIMEOUTS = Counter(
    "zephyr_poll_api_http_timeouts_total",
    "Requests answered 503 because a dependency timed out (pool wait, Redis, socket), by route.",
    ["route"],
)
POLLS_BY_STATUS = Gauge(
    "zephyr_poll_api_polls", "Polls in the database by status (draft, open, closed).", ["status"]
)
OPEN_POLL_PARTICIPANTS = Gauge(
    "zephyr_poll_api_open_poll_participants", "Participants who joined polls that are open now."
)
SHED_REQUESTS = Counter(
    "zephyr_poll_api_requests_shed_total", "Requests refused with 503 before any work.", ["reason"]
)
READ_REPLICA_FALLBACK = Gauge(
    "zephyr_poll_api_read_replica_fallback",
    "1 while reads go to the primary because the read replica is down or lags too far.",
)
READ_REPLICA_LAG = Gauge(
    "zephyr_poll_api_read_replica_lag_seconds",
    "The read replica's replication lag at its last successful check (an upper bound).",
)
REPLICA_READS = Counter(
    "zephyr_poll_api_replica_reads_total", "Reads answered from the read replica."
)
PRIMARY_READS = Counter(
    "zephyr_poll_api_primary_reads_total",
    "Reads that would go to the read replica but were answered from the primary, by reason.",
    ["reason"],
)

STATUSES = ("draft", "open", "closed")
_POLLS_BY_STATUS = text("SELECT status, count(*) FROM polls GROUP BY status")
# participants is vote-worker's table; reading it is allowed (only its owner writes it).
_OPEN_PARTICIPANTS = text(
    "SELECT count(*) FROM participants p JOIN polls ON polls.id = p.poll_id "
    "WHERE polls.status = 'open'"
)


async def sample_poll_gauges(engine: AsyncEngine) -> None:
    """Polls by status and participants of open polls, for the ops sampler. Each replica
    samples the same database numbers; dashboards take `max()` across replicas."""
    async with engine.connect() as conn:
        counts = {row[0]: int(row[1]) for row in await conn.execute(_POLLS_BY_STATUS)}
        for status in STATUSES:
            POLLS_BY_STATUS.labels(status).set(counts.get(status, 0))
        OPEN_POLL_PARTICIPANTS.set(int((await conn.execute(_OPEN_PARTICIPANTS)).scalar() or 0))
