"""One Prometheus registry per process, shared through this module."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.metrics import MetricWrapperBase

METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST


def render_metrics() -> bytes:
    return generate_latest(REGISTRY)


def label_cache(metric: MetricWrapperBase) -> Callable[[str], Any]:
    """`metric.labels(value)` for a metric with one label, each child looked up once.

    For hot paths: `.labels()` takes a lock and builds a tuple on every call. The values must
    be a small closed set (frame types, error codes), as every label value should be."""
    children: dict[str, Any] = {}

    def child(value: str) -> Any:
        found = children.get(value)
        if found is None:
            found = children[value] = metric.labels(value)
        return found

    return child
