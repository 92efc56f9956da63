"""Waiting for a system to converge: the one `eventually()` of the test suite.

A test that needs "this becomes true soon" (a row is stored, a frame arrives, a metric moves)
calls `await eventually(check)`: `check` is called until it returns something truthy, or stops
raising AssertionError, and that value is returned. After `timeout` seconds the test fails with
the last error or value. It is a convergence wait, never a timing assertion: the timeout is
generous and says nothing about speed. `eventually_sync` is the same for code without a loop.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

DEFAULT_TIMEOUT_S = 15.0


def _describe(last: object, error: AssertionError | None) -> str:
    return f"{error}" if error is not None else f"last result: {last!r}"


async def eventually(
    check: Callable[[], Awaitable[Any] | Any],
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    interval: float = 0.05,
    what: str = "condition",
) -> Any:
    """Call `check` (sync or async) until it returns a truthy value; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        error: AssertionError | None = None
        last: Any = None
        try:
            last = check()
            if inspect.isawaitable(last):
                last = await last
            if last:
                return last
        except AssertionError as exc:
            error = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met after {timeout}s: {_describe(last, error)}")
        await asyncio.sleep(interval)


def eventually_sync(
    check: Callable[[], Any],
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    interval: float = 0.05,
    what: str = "condition",
) -> Any:
    """`eventually` for synchronous tests (it runs its own short-lived event loop)."""
    return asyncio.run(eventually(check, timeout=timeout, interval=interval, what=what))
