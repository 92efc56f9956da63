"""A circuit breaker: a dependency that keeps failing is not called for a while.

Closed: calls pass, consecutive failures are counted. After `failure_threshold` of them the
breaker opens: `allow()` is False and callers answer "unavailable, retry after N s" at once
instead of waiting on a timeout each. After `reset_timeout` one probe call is let through
(half-open); its success closes the breaker, its failure opens it again. Nothing needs a restart:
the breaker closes by itself as soon as the dependency answers again.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

from prometheus_client import Gauge

T = TypeVar("T")
State = Literal["closed", "open", "half_open"]

CIRCUIT_OPEN = Gauge(
    "zephyr_circuit_open",
    "1 while the circuit breaker of a dependency is open (calls fail fast), else 0.",
    ["dependency"],
)


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
