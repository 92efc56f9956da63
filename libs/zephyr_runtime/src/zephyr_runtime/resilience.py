"""Resilience against a dependency that fails: backoff, retry, and a circuit breaker.

- `backoff_delay(attempt)`: exponential backoff with equal jitter (half fixed, half random).
- `retry(operation, what=...)`: call until it succeeds, with a timeout per attempt, a bounded or
  unbounded number of attempts, errors that retrying cannot fix raised at once, an `on_retry`
  hook (count it, log it) and a `stopping` event that abandons the wait on shutdown. Use it only
  where repeating the call is safe (idempotent).
- `wait_for_dependency(what, step, give_up_after=...)`: a start-up step retried for a while.
- `CircuitBreaker`: a dependency that keeps failing is not called for a while.

The breaker: closed, calls pass and consecutive failures are counted. After `failure_threshold`
of them it opens: `allow()` is False and callers answer "unavailable, retry after N s" at once
instead of waiting on a timeout each. After `reset_timeout` one probe call is let through
(half-open); its success closes the breaker, its failure opens it again. Nothing needs a restart:
the breaker closes by itself as soon as the dependency answers again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

from prometheus_client import Gauge

T = TypeVar("T")
State = Literal["closed", "open", "half_open"]

log = logging.getLogger(__name__)

CIRCUIT_OPEN = Gauge(
    "zephyr_circuit_open",
    "1 while the circuit breaker of a dependency is open (calls fail fast), else 0.",
    ["dependency"],
)


def backoff_delay(attempt: int, *, base: float = 0.1, cap: float = 5.0) -> float:
    """Equal jitter: half of `base * 2^(attempt-1)` (capped) fixed, the other half random."""
    delay = min(cap, base * 2.0 ** max(0, attempt - 1))
    return float(delay / 2 + random.uniform(0, delay / 2))


class Stopping(Exception):
    """The process is shutting down; a retried step was abandoned."""


def _never(_: BaseException) -> bool:
    return False


def _log_retry(what: str, attempt: int, delay: float, exc: BaseException) -> None:
    log.warning(
        "%s failed (attempt %d), retrying in %.2fs: %s: %s",
        what,
        attempt,
        delay,
        type(exc).__name__,
        exc,
        extra={"step": what, "attempt": attempt},
    )


async def retry(
    operation: Callable[[], Awaitable[T]],
    *,
    what: str,
    attempts: int | None = None,
    timeout: float | None = None,
    base: float = 0.1,
    cap: float = 5.0,
    permanent: Callable[[BaseException], bool] = _never,
    on_retry: Callable[[str, int, float, BaseException], None] = _log_retry,
    stopping: asyncio.Event | None = None,
) -> T:
    """Call `operation` until it succeeds; return its result.

    Each attempt is bounded by `timeout` seconds (a timeout is a failed attempt). After
    `attempts` failures (None: no limit) the last error is raised; an error for which
    `permanent` is true is raised at once. Before each wait `on_retry(what, attempt, delay,
    error)` runs (by default a warning in the log). With `stopping`, a failure once it is set,
    or its being set during the wait, raises `Stopping` instead of trying again.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            if timeout is None:
                return await operation()
            async with asyncio.timeout(timeout):
                return await operation()
        except Exception as exc:
            if permanent(exc) or (attempts is not None and attempt >= attempts):
                raise
            delay = backoff_delay(attempt, base=base, cap=cap)
            on_retry(what, attempt, delay, exc)
            if stopping is None:
                await asyncio.sleep(delay)
                continue
            if stopping.is_set():
                raise Stopping(what) from exc
            try:
                async with asyncio.timeout(delay):
                    await stopping.wait()
            except TimeoutError:
                continue
            raise Stopping(what) from exc


async def wait_for_dependency(
    what: str,
    operation: Callable[[], Awaitable[T]],
    *,
    give_up_after: float,
    attempt_timeout: float = 15.0,
) -> T:
    """A start-up step against a dependency that may start after us, or restart while we start
    (compose, CI, a broker restart): retried with backoff until it succeeds or `give_up_after`
    seconds have passed (then ConnectionError). The step must be safe to repeat."""
    try:
        async with asyncio.timeout(give_up_after):
            return await retry(operation, what=what, timeout=attempt_timeout, base=0.2, cap=5.0)
    except TimeoutError:
        raise ConnectionError(f"{what} not reachable within {give_up_after:g} s") from None


class CircuitOpen(Exception):
    """The dependency is known to be down; retry after `retry_after` seconds."""

    def __init__(self, name: str, retry_after: float) -> None:
        super().__init__(f"{name} unavailable (circuit open)")
        self.name = name
        self.retry_after = retry_after


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 3,
        reset_timeout: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._threshold = max(1, failure_threshold)
        self._reset_timeout = reset_timeout
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False
        CIRCUIT_OPEN.labels(name).set(0)

    @property
    def state(self) -> State:
        if self._opened_at is None:
            return "closed"
        if self._probing or self._clock() - self._opened_at >= self._reset_timeout:
            return "half_open"
        return "open"

    @property
    def is_open(self) -> bool:
        """True while calls should fail fast (a pending probe counts as open for the others)."""
        return self._opened_at is not None and (
            self._probing or self._clock() - self._opened_at < self._reset_timeout
        )

    def retry_after(self) -> float:
        """Seconds until the next probe is due (at least a short pause while open)."""
        if self._opened_at is None:
            return 0.0
        left = self._reset_timeout - (self._clock() - self._opened_at)
        return round(max(left, 0.5), 2)

    def allow(self) -> bool:
        """May a call go out now? In half-open, only the first caller (the probe) may."""
        if self._opened_at is None:
            return True
        if self._probing or self._clock() - self._opened_at < self._reset_timeout:
            return False
        self._probing = True
        return True

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probing = False
        CIRCUIT_OPEN.labels(self.name).set(0)

    def record_failure(self) -> None:
        self._failures += 1
        if self._probing or self._failures >= self._threshold:
            self._opened_at = self._clock()
            self._probing = False
            CIRCUIT_OPEN.labels(self.name).set(1)

    async def call(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run `operation` through the breaker; raises CircuitOpen without calling when open."""
        if not self.allow():
            raise CircuitOpen(self.name, self.retry_after())
        try:
            result = await operation()
        except BaseException:
            self.record_failure()
            raise
        self.record_success()
        return result
