"""zephyr_runtime.resilience in memory: backoff, retry with its hooks, the circuit breaker."""

from __future__ import annotations

import asyncio

import pytest

from zephyr_runtime.resilience import CircuitBreaker, CircuitOpen, Stopping, backoff_delay, retry

CAP_S = 5.0


def test_backoff_grows_and_is_capped() -> None:
    assert backoff_delay(1) <= backoff_delay(10)
    assert all(CAP_S / 2 <= backoff_delay(50, cap=CAP_S) <= CAP_S for _ in range(100))


async def test_retry_until_success_and_stop() -> None:
    calls = 0
    hooked: list[tuple[str, int]] = []

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionError("down")
        return "done"

    def on_retry(what: str, attempt: int, delay: float, exc: BaseException) -> None:
        hooked.append((what, attempt))

    assert await retry(flaky, what="test", base=0.001, on_retry=on_retry) == "done"
    assert calls == 3
    assert hooked == [("test", 1), ("test", 2)]

    async def down() -> None:
        raise ConnectionError("down")

    stopping = asyncio.Event()
    stopping.set()
    with pytest.raises(Stopping):
        await retry(down, what="test", stopping=stopping)
    with pytest.raises(ValueError, match="bad"):
        await retry(_raise_value_error, what="test", permanent=lambda e: isinstance(e, ValueError))


async def _raise_value_error() -> None:
    raise ValueError("bad")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_failures_probes_once_and_closes_on_success() -> None:
    clock = Clock()
    breaker = CircuitBreaker("dep", failure_threshold=2, reset_timeout=5, clock=clock)
    assert breaker.allow() and breaker.state == "closed"
    breaker.record_failure()
    assert breaker.allow()  # one failure is not enough
    breaker.record_failure()
    assert breaker.state == "open" and breaker.is_open and not breaker.allow()
    assert 0.5 <= breaker.retry_after() <= 5
    clock.now += 5
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # everyone else waits for the probe's result
    breaker.record_failure()  # the probe failed: open again for a full period
    assert breaker.state == "open"
    clock.now += 5
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == "closed" and breaker.allow()


class Down:
    """A dependency that is down: every call fails, and the calls are counted."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1
        raise ConnectionError("down")


async def test_breaker_call_fails_fast_while_open() -> None:
    breaker = CircuitBreaker("dep", failure_threshold=1, reset_timeout=10, clock=Clock())
    broken = Down()
    with pytest.raises(ConnectionError):
        await breaker.call(broken)
    with pytest.raises(CircuitOpen) as info:
        await breaker.call(broken)
    assert broken.calls == 1 and info.value.retry_after > 0


async def test_retry_gives_up_after_its_attempts_and_times_out_each() -> None:
    down = Down()
    with pytest.raises(ConnectionError):
        await retry(down, what="down", attempts=3, base=0.001)
    assert down.calls == 3

    async def hangs() -> None:
        await asyncio.sleep(10)

    with pytest.raises(TimeoutError):
        await retry(hangs, what="hangs", attempts=2, timeout=0.01, base=0.001)
    delays = [backoff_delay(n, base=0.1, cap=1.0) for n in range(1, 10)]
    assert all(0 < d <= 1.0 for d in delays) and delays[-1] >= 0.5
