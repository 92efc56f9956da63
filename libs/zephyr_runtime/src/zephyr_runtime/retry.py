"""Retrying a call to RabbitMQ, PostgreSQL or Redis: a timeout per attempt, exponential backoff
with jitter between attempts. Use it only where repeating the call is safe (idempotent)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)


def backoff_delay(attempt: int, *, base: float = 0.1, cap: float = 5.0) -> float:
    """Equal jitter: half of `base * 2^(attempt-1)` (capped) fixed, the other half random."""
    delay = min(cap, base * 2.0 ** max(0, attempt - 1))
    return float(delay / 2 + random.uniform(0, delay / 2))


async def retry_async(
    operation: Callable[[], Awaitable[T]],
    *,
    what: str,
    attempts: int = 5,
    timeout: float | None = 5.0,
    base: float = 0.1,
    cap: float = 5.0,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
) -> T:
    """Call `operation` up to `attempts` times, each bounded by `timeout` seconds.

    An exception not in `retry_on` is raised at once; after the last attempt the last error is
    raised. A timeout counts as a failed attempt (TimeoutError).
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            if timeout is None:
                return await operation()
            async with asyncio.timeout(timeout):
                return await operation()
        except retry_on as exc:
            if attempt >= attempts:
                raise
            delay = backoff_delay(attempt, base=base, cap=cap)
            log.warning(
                "%s failed (attempt %d/%d), retrying in %.2fs: %s",
                what,
                attempt,
                attempts,
                delay,
                f"{type(exc).__name__}: {exc}",
            )
            await asyncio.sleep(delay)
