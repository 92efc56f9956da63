"""Retrying one step of the worker's work (a flush's record, cache, publish; a poll event; a
quiz rescore) until it succeeds, each retry counted and logged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from vote_worker import metrics
from zephyr_runtime.resilience import retry

T = TypeVar("T")

log = logging.getLogger(__name__)

RETRY_BASE_S = 0.05  # the first wait before retrying a step; it doubles up to 5 s (jittered)


def _count_retry(step: str, attempt: int, delay: float, exc: BaseException) -> None:
    metrics.FLUSH_RETRIES.labels(step).inc()
    log.warning(
        "%s failed, retrying in %.2fs: %s: %s",
        step,
        delay,
        type(exc).__name__,
        exc,
        extra={"step": step, "attempt": attempt},
    )


async def retry_step(
    step: str,
    operation: Callable[[], Awaitable[T]],
    *,
    permanent: Callable[[BaseException], bool] = lambda _: False,
    stopping: asyncio.Event | None = None,
) -> T:
    """`zephyr_runtime.resilience.retry` with vote-worker's backoff, each retry counted in
    `zephyr_vote_worker_flush_retries_total{step}`."""
    return await retry(
        operation,
        what=step,
        base=RETRY_BASE_S,
        permanent=permanent,
        on_retry=_count_retry,
        stopping=stopping,
    )
