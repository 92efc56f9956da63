"""Retrying a step against Postgres, Redis or RabbitMQ: exponential backoff with jitter."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from vote_worker.metrics import FLUSH_RETRIES

T = TypeVar("T")

log = logging.getLogger(__name__)

BASE_DELAY_S = 0.05
MAX_DELAY_S = 5.0


class Stopping(Exception):
    """The worker is shutting down; the step was abandoned (its message stays unacked)."""


def backoff_delay(attempt: int, base: float = BASE_DELAY_S, cap: float = MAX_DELAY_S) -> float:
    """Equal jitter: half the exponential delay fixed, half random, never above `cap`."""
    delay = min(cap, base * 2.0 ** max(0, attempt - 1))
    return float(delay / 2 + random.uniform(0, delay / 2))


async def retry(
    step: str,
    operation: Callable[[], Awaitable[T]],
    *,
    permanent: Callable[[BaseException], bool] = lambda _: False,
    stopping: asyncio.Event | None = None,
) -> T:
    """Run `operation` until it succeeds.

    An error for which `permanent` is true is raised at once (retrying cannot fix it). With
    `stopping`, a failure after it is set raises `Stopping` instead of waiting again.
    """
    attempt = 0
    while True:
        try:
            return await operation()
        except Exception as exc:
            if permanent(exc):
                raise
            attempt += 1
            delay = backoff_delay(attempt)
            FLUSH_RETRIES.labels(step).inc()
            log.warning(
                "%s failed, retrying in %.2fs: %s: %s",
                step,
                delay,
                type(exc).__name__,
                exc,
                extra={"step": step, "attempt": attempt},
            )
            if stopping is None:
                await asyncio.sleep(delay)
                continue
            if stopping.is_set():
                raise Stopping(step) from exc
            try:
                await asyncio.wait_for(stopping.wait(), delay)
            except TimeoutError:
                continue
            raise Stopping(step) from exc
