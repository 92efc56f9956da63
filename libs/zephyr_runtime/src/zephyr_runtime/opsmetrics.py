"""The metrics every service shares, named `zephyr_*` (one definition per process).

Service-specific metrics live in each service's own `metrics.py`; what an operator compares
across services (dependencies, messages per queue, the database, memory) is defined here once,
so every service exports it under the same name and labels. docs/operations.md lists them all.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram

DEPENDENCY_UP = Gauge(
    "zephyr_dependency_up",
    "1 when the dependency answered the last readiness check, else 0.",
    ["dependency"],
)
DEPENDENCY_CHECK_SECONDS = Gauge(
    "zephyr_dependency_check_seconds",
    "How long the last readiness check of the dependency took.",
    ["dependency"],
)

MESSAGES_PUBLISHED = Counter(
    "zephyr_messages_published_total",
    "Messages published with confirms, by destination (queue for the default exchange, else "
    "the exchange) and outcome (confirmed, failed).",
    ["destination", "outcome"],
)
MESSAGES_CONSUMED = Counter(
    "zephyr_messages_consumed_total", "Messages received from a queue.", ["queue"]
)
MESSAGES_FAILED = Counter(
    "zephyr_messages_failed_total",
    "Messages whose processing failed (invalid, unstorable or refused by the database).",
    ["queue"],
)
MESSAGES_DEAD_LETTERED = Counter(
    "zephyr_messages_dead_lettered_total",
    "Messages rejected without requeue, so the broker moved them to <queue>.dead.",
    ["queue"],
)
QUEUE_MESSAGES = Gauge(
    "zephyr_queue_messages",
    "Messages ready in the queue, sampled with a passive declare (the backlog).",
    ["queue"],
)
QUEUE_CONSUMERS = Gauge(
    "zephyr_queue_consumers", "Consumers attached to the queue, sampled with it.", ["queue"]
)

DB_QUERY_SECONDS = Histogram(
    "zephyr_db_query_duration_seconds",
    "PostgreSQL statement time as the client saw it, by statement kind.",
    ["operation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DB_POOL_CONNECTIONS = Gauge(
    "zephyr_db_pool_connections",
    "Database pool connections by state: in_use, idle, max (the pool's limit).",
    ["state"],
)

MEMORY_LIMIT_BYTES = Gauge(
    "zephyr_memory_limit_bytes",
    "The memory this process may use: its cgroup's limit, else the machine's memory.",
)

_CGROUP_V2 = Path("/sys/fs/cgroup/memory.max")
_CGROUP_V1 = Path("/sys/fs/cgroup/memory/memory.limit_in_bytes")
_NO_LIMIT_V1 = 1 << 60  # cgroup v1 reports "no limit" as a huge number


def memory_limit_bytes() -> int:
    """The cgroup memory limit (v2 or v1), else the physical memory of the machine."""
    for path in (_CGROUP_V2, _CGROUP_V1):
        try:
            raw = path.read_text().strip()
        except OSError:
            continue
        if raw.isdigit() and int(raw) < _NO_LIMIT_V1:
            return int(raw)
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


async def sample_memory_limit() -> None:
    MEMORY_LIMIT_BYTES.set(memory_limit_bytes())
