"""vote-worker's Prometheus metrics, on the process's one default registry.

Messages consumed, failed and dead-lettered per queue are the shared `zephyr_messages_*` of
`zephyr_runtime.opsmetrics`; only what is vote-worker's own is defined here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from prometheus_client import Counter, Gauge, Histogram

VOTES_RECORDED = Counter("zephyr_vote_worker_votes_recorded_total", "Votes stored as new ballots.")
VOTES_REJECTED = Counter(
    "zephyr_vote_worker_votes_rejected_total", "Votes rejected, by reason.", ["reason"]
)
VOTES_DUPLICATE = Counter(
    "zephyr_vote_worker_votes_duplicate_total",
    "Valid votes whose vote_id was already stored (redeliveries and duplicates).",
)
BATCHES_FLUSHED = Counter("zephyr_vote_worker_batches_flushed_total", "Vote batches flushed.")
BATCH_SIZE = Histogram(
    "zephyr_vote_worker_batch_size_votes",
    "Votes per flushed batch.",
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000),
)
FLUSH_SECONDS = Histogram(
    "zephyr_vote_worker_flush_seconds",
    "Time to flush one batch: record, cache, publish, ack (retries included).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
FLUSH_RETRIES = Counter(
    "zephyr_vote_worker_flush_retries_total", "Failed flush steps that were retried.", ["step"]
)
PENDING_VOTES = Gauge("zephyr_vote_worker_pending_votes", "Votes waiting for the next flush.")
MESSAGES_ACKED = Counter(
    "zephyr_vote_worker_messages_acked_total", "Messages acknowledged, by queue.", ["queue"]
)
DB_ERRORS = Counter("zephyr_vote_worker_db_errors_total", "Failed Postgres operations.")
TALLIES_RECONCILED = Counter(
    "zephyr_vote_worker_tallies_reconciled_total",
    "Tallies the reconciler fixed: recounted after drift, or missing or stale in Redis.",
)
QUIZ_RESCORES = Counter(
    "zephyr_vote_worker_quiz_rescores_total",
    "Quiz recomputations stored, cached and published, by what asked for them.",
    ["trigger"],
)
QUIZ_RESCORE_SECONDS = Histogram(
    "zephyr_vote_worker_quiz_rescore_seconds",
    "Time to recompute a poll's quiz scores and commit them.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DEAD_LETTERS = Gauge(
    "zephyr_vote_worker_dead_letter_messages", "Messages waiting in a dead-letter queue.", ["queue"]
)


@contextlib.contextmanager
def counting_db_errors() -> Iterator[None]:
    """Count a failed Postgres operation in `zephyr_vote_worker_db_errors_total`, then re-raise."""
    try:
        yield
    except Exception:
        DB_ERRORS.inc()
        raise
