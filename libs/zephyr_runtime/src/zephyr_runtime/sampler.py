"""A background task that refreshes gauges every few seconds (dependencies, queues, pools).

Gauges that describe the outside world (is Postgres up? how deep is `votes`?) must stay fresh
even when nobody calls /health/ready, so each service samples them on a timer. A failing sample
is logged at debug level and tried again next time: sampling never takes a service down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

log = logging.getLogger(__name__)

Sample = Callable[[], Awaitable[object]]


class PeriodicSampler:
    def __init__(
        self, samples: Sequence[Sample], *, interval: float = 5.0, timeout: float = 4.0
    ) -> None:
        self._samples = list(samples)
        self._interval = interval
        self._timeout = timeout
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="metrics-sampler")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def sample_once(self) -> None:
        """Run every sample concurrently, each bounded by the timeout."""
        await asyncio.gather(*(self._one(sample) for sample in self._samples))

    async def _one(self, sample: Sample) -> None:
        try:
            await asyncio.wait_for(sample(), self._timeout)
        except Exception as exc:
            log.debug("metrics sample failed", extra={"sample": repr(sample), "error": repr(exc)})

    async def _run(self) -> None:
        while True:
            await self.sample_once()
            await asyncio.sleep(self._interval)
