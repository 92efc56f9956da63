"""audit-sink's own Prometheus metrics; the `zephyr_*` ones every service shares come from
`zephyr_runtime.opsmetrics` (one default registry, served on /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from contracts.topology import AUDIT_QUEUE
from zephyr_runtime.opsmetrics import MESSAGES_CONSUMED, MESSAGES_DEAD_LETTERED, MESSAGES_FAILED

EVENTS_STORED = Counter(
    "zephyr_audit_sink_events_stored_total", "Audit events inserted into audit_log."
)
DUPLICATES_SKIPPED = Counter(
    "zephyr_audit_sink_duplicates_skipped_total",
    "Audit events offered but already stored (redeliveries and duplicates).",
)
BATCHES_FLUSHED = Counter(
    "zephyr_audit_sink_batches_flushed_total", "Batches written to audit_log."
)
FLUSH_SECONDS = Histogram(
    "zephyr_audit_sink_flush_seconds",
    "Time to write one batch to audit_log (successful attempts).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
FLUSH_RETRIES = Counter(
    "zephyr_audit_sink_flush_retries_total", "Failed batch writes that will be retried."
)
MESSAGES_REJECTED = Counter(
    "zephyr_audit_sink_messages_rejected_total",
    "Messages rejected without requeue (dead-lettered to audit.dead).",
    ["reason"],
)
PENDING_EVENTS = Gauge(
    "zephyr_audit_sink_pending_events", "Events received and not yet stored and acked."
)


def message_consumed() -> None:
    MESSAGES_CONSUMED.labels(AUDIT_QUEUE).inc()


def message_rejected(reason: str) -> None:
    """A message rejected without requeue: the broker dead-letters it to audit.dead."""
    MESSAGES_REJECTED.labels(reason=reason).inc()
    MESSAGES_FAILED.labels(AUDIT_QUEUE).inc()
    MESSAGES_DEAD_LETTERED.labels(AUDIT_QUEUE).inc()
