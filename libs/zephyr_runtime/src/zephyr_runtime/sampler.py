"""A background task that refreshes gauges every few seconds (dependencies, queues, pools).

Gauges that describe the outside world (is Postgres up? how deep is `votes`?) must stay fresh
even when nobody calls /health/ready, so each service samples them on a timer. A failing sample
is logged at debug level and tried again next time: sampling never takes a service down.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence

from zephyr_runtime.opsmetrics import sample_memory_limit
from zephyr_runtime.tasks import cancel_and_wait

log = logging.getLogger(__name__)

# A sample is a coroutine function, or a plain function for numbers read in memory (a pool).
Sample = Callable[[], Awaitable[object] | object]


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
            await cancel_and_wait(task)

    async def sample_once(self) -> None:
        """Run every sample concurrently, each bounded by the timeout."""
        await asyncio.gather(*(self._one(sample) for sample in self._samples))

    async def _one(self, sample: Sample) -> None:
        try:
            result = sample()
            if inspect.isawaitable(result):
                async with asyncio.timeout(self._timeout):
                    await result
        except Exception as exc:
            log.debug("metrics sample failed", extra={"sample": repr(sample), "error": repr(exc)})

    async def _run(self) -> None:
        while True:
            await self.sample_once()
            await asyncio.sleep(self._interval)


def ops_sampler(*samples: Sample, interval: float) -> PeriodicSampler:
    """The sampler every service runs: its own samples (its dependency checks first, see
    `zephyr_runtime.health.dependency_sample`) and the container's memory limit."""
    return PeriodicSampler([*samples, sample_memory_limit], interval=interval)


def run_every(
    interval: float, step: Callable[[], Awaitable[object]], *, what: str
) -> asyncio.Task[None]:
    """`step` every `interval` seconds in a task of its own until cancelled (a reconciler, a
    watch). A failure is logged as a warning and the step tried again next time: the next pass
    repairs what this one could not."""

    async def loop() -> None:
        while True:
            try:
                await step()
            except Exception as exc:
                log.warning("%s failed: %s: %s", what, type(exc).__name__, exc)
            await asyncio.sleep(interval)

    return asyncio.create_task(loop(), name=what)
