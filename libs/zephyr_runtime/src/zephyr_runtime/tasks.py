"""Stopping a background task for sure.

`task.cancel(); await task` hangs for ever when the task swallows its cancellation and goes on
looping: Python 3.11's `asyncio.wait_for` loses a cancellation that arrives as the awaited
call completes. Zephyr uses `asyncio.timeout` instead (it does not), and stops its tasks with
`cancel_and_wait`, which cancels again until the task ends and gives up, logged, after a bound,
so a service's shutdown always finishes within its grace period.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

log = logging.getLogger(__name__)

RECANCEL_S = 0.2


async def cancel_and_wait(task: asyncio.Task[object], *, timeout: float = 5.0) -> bool:
    """Cancel `task` and wait until it ended; True when it did within `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not task.done():
        remaining = deadline - loop.time()
        if remaining <= 0:
            log.warning("task %s did not stop within %.1f s", task.get_name(), timeout)
            return False
        task.cancel()
        await asyncio.wait({task}, timeout=min(RECANCEL_S, remaining))
    if not task.cancelled():
        task.exception()  # retrieved: an error of a task being stopped is not news
    return True


async def cancel_all(tasks: Iterable[asyncio.Task[object]], *, timeout: float = 5.0) -> bool:
    """`cancel_and_wait` for several tasks at once; True when all of them ended."""
    results = await asyncio.gather(*(cancel_and_wait(t, timeout=timeout) for t in tasks))
    return all(results)
